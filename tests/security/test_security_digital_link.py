"""Issue 14 item 1: no identifier that can be guessed or counted leads to a unit code."""
from __future__ import annotations

import pytest

from gi_trace.tracing import gs1, units
from tests import factories
from tests.tracing_labels_support import passed_batch

GTIN = "09506000134352"


def _lot_with_packages(session, count=5):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    user = factories.producer_user(producer)
    line = gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", GTIN, "礼盒"))
    _p, user, batch = passed_batch(session, producer, user, product_line_id=line.id, lot="ZN-2026-07")
    issued = units.issue_units(session, user, batch, count, 0.5)
    session.commit()
    return batch, issued


def test_counting_serials_through_the_resolver_reveals_no_unit_code(client, session):
    batch, issued = _lot_with_packages(session)
    secret = {u.code for u in issued}
    for n in range(0, 12):
        response = client.get(f"/01/{GTIN}/10/ZN-2026-07/21/{n}")
        assert response.status_code == 404
        assert not any(code in response.get_data(as_text=True) + response.headers.get("Location", "")
                       for code in secret)


def test_the_packages_own_code_as_serial_resolves(client, session):
    batch, issued = _lot_with_packages(session)
    unit = issued[2]
    response = client.get(f"/01/{GTIN}/10/ZN-2026-07/21/{unit.code}")
    assert response.status_code == 307 and response.headers["Location"].endswith(f"/t/{unit.code}")


def test_a_unit_code_of_another_lot_does_not_resolve_under_this_lot(client, session):
    _lot_with_packages(session)
    _p, other_user, other = passed_batch(session)
    stranger = units.issue_units(session, other_user, other, 1, 0.5)[0]
    session.commit()
    assert client.get(f"/01/{GTIN}/10/ZN-2026-07/21/{stranger.code}").status_code == 404


class TestResolverRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "DIGITAL_LINK_RATE_LIMIT": "5 per minute"}

    def test_the_resolver_is_limited_per_network(self, client, session):
        _lot_with_packages(session)
        codes_seen = [client.get(f"/01/{GTIN}/10/ZN-2026-07/21/{n}", environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}
                                 ).status_code for n in range(1, 8)]
        assert codes_seen[:5] == [404] * 5 and codes_seen[5:] == [429, 429]  # one /24: one budget
        other_network = client.get(f"/01/{GTIN}/10/ZN-2026-07", environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert other_network.status_code == 307
