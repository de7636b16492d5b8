"""The compliance service (SQL aggregates) against the pure definitions, on a real database."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from gi_trace.authorisation import rules
from gi_trace.errors import Forbidden, NotFound, ValidationError
from gi_trace.oversight import compliance as c
from gi_trace.registry.models import Product, ProductTown, SectorTotal
from tests.factories import DecisionFactory, OutputFactory, ProducerFactory, UserFactory, goji
from tests.unit.test_oversight_compliance import AS_OF, CASES, GOJI

TOWN2 = "640521101"


def potato(session) -> Product:
    """A second product whose protected towns lie in two counties."""
    product = Product(slug="test-potato", name_zh="测试马铃薯", target_share=0.5)
    session.add(product)
    session.flush()
    for town in ("640522100", "640522101", "640502100"):
        session.add(ProductTown(product_id=product.id, town_code=town))
    session.flush()
    return product


def build(session, facts, other_product_id):
    producer = ProducerFactory(town_code=facts.town_code, county_code=facts.county_code)
    for d in facts.decisions:
        DecisionFactory(producer_id=producer.id, action=d.action, effective_date=d.effective_date,
                        valid_until=d.valid_until, product_id=goji().id if d.product_id == GOJI else other_product_id)
    for year, value in facts.outputs.items():
        OutputFactory(producer_id=producer.id, year=year, output_value_yuan=value)
    return producer


@pytest.mark.parametrize("name", sorted(CASES))
def test_service_agrees_with_the_rule_on_each_case(session, name):
    other = potato(session)
    facts, (n, auth, total, total_auth) = CASES[name]
    build(session, facts, other.id)
    r = c.compliance(session, goji(), 2025, as_of=AS_OF)
    assert (r["producers_total"], r["producers_authorised"], r["output_value_total"],
            r["output_value_authorised"]) == (n, auth, total, total_auth)


def test_all_cases_together_give_the_summed_shares(session):
    other = potato(session)
    for facts, _expected in CASES.values():
        build(session, facts, other.id)
    expected = [e for _f, e in CASES.values()]
    r = c.compliance(session, goji(), 2025, as_of=AS_OF)
    assert r["producers_total"] == sum(e[0] for e in expected)
    assert r["producers_authorised"] == sum(e[1] for e in expected)
    assert r["user_share"] == round(sum(e[1] for e in expected) / sum(e[0] for e in expected), 4)
    assert r["output_share"] == round(sum(e[3] for e in expected) / sum(e[2] for e in expected), 4)
    drill = c.drilldown(session, goji(), 2025, as_of=AS_OF)
    assert drill["total"] == len(CASES)
    assert sum(row["counts_as_producer"] for row in drill["rows"]) == r["producers_total"]
    assert sum(row["counts_as_authorised"] for row in drill["rows"]) == r["producers_authorised"]
    reasons = {reason for row in drill["rows"] for reason in row["reasons"]}
    assert {"counts", "outside_towns", "no_authorisation", "pending", "suspended", "revoked", "expired",
            "no_output"} <= reasons


def _random_history(rnd: random.Random, start: date) -> list[tuple]:
    """A valid sequence of decisions, built by following the state machine."""
    out, status, day = [], rules.Status(rules.NONE), start
    for _ in range(rnd.randint(0, 6)):
        day += timedelta(days=rnd.choice([0, 1, 30, 200, 400]))
        status = rules._expire(status, day)
        action = rnd.choice(rules.ALLOWED[status.state])
        valid_until = day + timedelta(days=rnd.choice([0, 100, 700])) if action == "approve" and rnd.random() < .5 \
            else None
        d = type("D", (), {"action": action, "effective_date": day, "valid_until": valid_until,
                           "reference_no": "r", "reason": "x"})()
        status = rules.next_status(status, d)
        out.append((action, day, valid_until))
    return out


def test_sql_in_force_rule_matches_status_on_for_random_histories(session):
    rnd = random.Random(20251231)
    histories = {}
    for i in range(120):
        producer = ProducerFactory(town_code=rnd.choice([c_ for c_ in ("640521100", TOWN2)]))
        histories[producer.id] = _random_history(rnd, date(2021, 1, 1) + timedelta(days=rnd.randint(0, 300)))
        for action, day, valid_until in histories[producer.id]:
            DecisionFactory(producer_id=producer.id, action=action, effective_date=day, valid_until=valid_until)
    session.flush()
    for as_of in (date(2021, 6, 1), date(2022, 3, 3), date(2023, 12, 31), date(2025, 7, 1)):
        want = 0
        for pid in histories:
            want += rules.status_on(
                [type("D", (), {"action": a, "effective_date": d, "valid_until": v, "reference_no": "", "reason": "",
                                "id": i})() for i, (a, d, v) in enumerate(histories[pid])], as_of).in_force
        got = c.compliance(session, goji(), 2025, as_of=as_of)["producers_authorised"]
        assert got == want, as_of


def test_official_total_for_one_county_only(session):
    product = potato(session)
    hy = [ProducerFactory(town_code="640522100", county_code="640522", products=[product.slug]) for _ in range(3)]
    spt = [ProducerFactory(town_code="640502100", county_code="640502", products=[product.slug]) for _ in range(2)]
    for p in hy[:2] + spt[:1]:
        DecisionFactory(producer_id=p.id, product_id=product.id)
    for p in hy + spt:
        OutputFactory(producer_id=p.id, product_id=product.id, year=2025, output_value_yuan=100.0)
    session.add(SectorTotal(product_id=product.id, year=2025, county_code="640522", producers_total=8,
                            output_value_yuan=800.0, source="海原县统计局《2025年统计年鉴》"))
    session.add(SectorTotal(product_id=product.id, year=2024, county_code=None, producers_total=99,
                            source="another year"))
    session.flush()
    r = c.compliance(session, product, 2025, as_of=AS_OF)
    by = {row["county_code"]: row for row in r["by_county"]}
    assert list(by) == ["640502", "640522"]
    assert (by["640522"]["producers_total"], by["640522"]["user_share"], by["640522"]["output_share"]) == (
        8, 0.25, 0.25)
    assert by["640522"]["denominator_source"]["producers"] == {"kind": "official",
                                                              "source": "海原县统计局《2025年统计年鉴》",
                                                              "scope": "protected_area"}
    assert (by["640502"]["producers_total"], by["640502"]["user_share"]) == (2, 0.5)
    assert (r["producers_total"], r["producers_authorised"], r["user_share"], r["target"]) == (5, 3, 0.6, 0.5)
    assert r["denominator_source"]["producers"]["kind"] == "register"
    only = c.compliance(session, product, 2025, county_code="640522", as_of=AS_OF)
    assert (only["producers_total"], only["producers_authorised"]) == (8, 2)
    assert [row["county_code"] for row in only["by_county"]] == ["640522"]


def test_parse_query_checks_each_parameter(session):
    today = date(2026, 5, 1)
    q = c.parse_query(session, "zhongning-goji", "2026", None, None, today=today)
    assert q.as_of == today and q.county_code is None
    assert c.parse_query(session, "zhongning-goji", 2024, "640521", "", today=today).as_of == date(2024, 12, 31)
    for args, field in [(("nope", 2025), "product"), (("zhongning-goji", "20x5"), "year"),
                        (("zhongning-goji", 1999), "year"), (("zhongning-goji", 2027), "year"),
                        (("zhongning-goji", 2025, "999999"), "county"),
                        (("zhongning-goji", 2025, "640521100"), "county"),
                        (("zhongning-goji", 2025, None, "2025-13-01"), "as_of"),
                        (("", 2025), "product")]:
        with pytest.raises((ValidationError, NotFound)) as info:
            c.parse_query(session, *args, today=today)
        assert info.value.field == field, args


def test_county_regulator_is_held_to_its_county(session):
    county = UserFactory(county_code="640522")
    city = UserFactory()
    assert c.scoped_county(county, None) == "640522"
    assert c.scoped_county(county, "640522") == "640522"
    with pytest.raises(Forbidden):
        c.scoped_county(county, "640521")
    assert c.scoped_county(city, "640521") == "640521"
    assert c.scoped_county(city, "") is None


def test_bulk_drilldown_agrees_with_status_on_drilldown(session):
    rnd = random.Random(77)
    for i in range(80):
        producer = ProducerFactory(town_code=rnd.choice(["640521100", TOWN2, "640521206"]))
        for action, day, valid_until in _random_history(rnd, date(2021, 1, 1)):
            DecisionFactory(producer_id=producer.id, action=action, effective_date=day, valid_until=valid_until)
        if rnd.random() < .7:
            OutputFactory(producer_id=producer.id, year=2024, output_value_yuan=rnd.randint(0, 9999))
    session.flush()
    for as_of in (date(2021, 6, 1), date(2023, 2, 1), date(2024, 12, 31)):
        slow = c.drilldown(session, goji(), 2024, as_of=as_of)["rows"]
        fast = c.drilldown_all(session, goji(), 2024, as_of=as_of)
        key = ("producer_id", "state", "since", "counts_as_producer", "counts_as_authorised", "reasons",
               "output_value")
        assert [{k: r[k] for k in key} for r in fast] == [{k: r[k] for k in key} for r in slow]
        result = c.compliance(session, goji(), 2024, as_of=as_of)
        assert sum(r["counts_as_authorised"] for r in fast) == result["producers_authorised"]
