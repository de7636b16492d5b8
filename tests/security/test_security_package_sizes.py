"""Issue 14 item 4: the package size never comes from the request, and labels never exceed the batch."""
from __future__ import annotations

import pytest
from sqlmodel import func, select

from gi_trace.errors import Refused, ValidationError
from gi_trace.tracing import gs1, labels, units
from gi_trace.tracing.models import UnitCode
from tests import factories
from tests.conftest import csrf_token, login
from tests.tracing_labels_support import passed_batch

BASE = "https://trace.example.cn"


def _token(session, user) -> dict:
    from gi_trace.accounts.services import create_token

    _t, raw = create_token(session, user, "t")
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def _unit_count(session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(UnitCode)).one()


def test_a_made_up_package_size_is_refused(client, session):
    _p, user, batch = passed_batch(session)  # 250 kg
    headers = _token(session, user)
    url = f"/api/v1/batches/{batch.code}/units"
    for _ in range(2):
        response = client.post(url, json={"count": 20000, "package_kg": 0.001}, headers=headers)
        assert response.status_code == 422 and response.json["error"]["field"] == "package_kg"
        assert "0.25" in response.json["error"]["message"]  # names the approved sizes
    assert _unit_count(session) == 0


def test_a_product_lines_size_is_fixed(session):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    user = factories.producer_user(producer)
    line = gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "09506000134352", "礼盒",
                                                                         package_kg=0.25))
    _p, user, batch = passed_batch(session, producer, user, product_line_id=line.id, lot="L1")
    with pytest.raises(ValidationError) as refused:
        units.issue_units(session, user, batch, 10, 0.1)
    assert refused.value.field == "package_kg" and "0.25" in refused.value.message
    assert {u.package_kg for u in map(lambda i: session.exec(select(UnitCode).where(
        UnitCode.code == i.code)).one(), units.issue_units(session, user, batch, 10))} == {0.25}


def test_a_product_line_takes_only_an_approved_size(session):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    user = factories.producer_user(producer)
    with pytest.raises(ValidationError) as refused:
        gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "09506000134352", "散装",
                                                                      package_kg=0.001))
    assert refused.value.field == "package_kg"


def test_unit_codes_and_batch_label_copies_together_never_label_more_than_the_batch(session):
    _p, user, batch = passed_batch(session)  # 250 kg
    units.issue_units(session, user, batch, 480, 0.5)  # 240 kg
    with pytest.raises(Refused):  # 101 copies of the smallest pack (0.1 kg) is 10.1 kg > the 10 kg left
        labels.build_sheet(session, user, batch, BASE, kind="batch", count=101)
    sheet = labels.build_sheet(session, user, batch, BASE, kind="batch", count=100)
    assert sheet.count == 100 and batch.label_copies == 100
    with pytest.raises(Refused) as refused:  # every kilogram is labelled now
        units.issue_units(session, user, batch, 1, 0.1)
    assert refused.value.code == "units_over_quantity"
    with pytest.raises(Refused):
        labels.build_sheet(session, user, batch, BASE, kind="batch", count=1)


def test_a_regulator_sets_the_approved_sizes_on_the_product_page(client, session):
    factories.UserFactory(username="admin", role="admin")
    session.commit()
    login(client, "admin")
    page = client.get("/products/zhongning-goji/edit").get_data(as_text=True)
    assert "0.25" in page and 'name="package_sizes"' in page
    goji = factories.goji()
    form = {"csrf_token": csrf_token(client, "/products/zhongning-goji/edit"), "slug": "zhongning-goji",
            "name_zh": "中宁枸杞", "name_en": "Zhongning goji", "holder": goji.holder, "kind_certification_mark": "y",
            "towns": ["640521100"], "target_share": "0.6"}
    bad = client.post("/products/zhongning-goji/edit", data={**form, "package_sizes": "0.5; abc"})
    assert bad.status_code == 422 and "abc" in bad.get_data(as_text=True)
    good = client.post("/products/zhongning-goji/edit", data={**form, "package_sizes": "1；0.5, 0.5"})
    assert good.status_code == 302
    session.expire_all()
    assert factories.goji().package_sizes_kg == [0.5, 1.0]
