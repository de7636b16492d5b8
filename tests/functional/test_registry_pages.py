"""Register pages: producer list, detail, forms; GI products; sector totals."""
import re

from sqlmodel import select

from gi_trace.registry.models import OutputRecord, Plot, Producer, Product, ProductTown, SectorTotal, Trademark
from gi_trace.registry.uscc import check_character
from tests import factories
from tests.conftest import csrf_token, login


def _has_error_beside(html: str, field_id: str) -> bool:
    return re.search(r'class="field has-error">\s*<label for="' + re.escape(field_id) + '"', html) is not None


def _producer_form(client, **fields):
    token = csrf_token(client, "/producers/new")
    data = {"csrf_token": token, "name": "中宁县新建枸杞合作社", "kind": "cooperative", "uscc": "",
            "registry_no": "", "county_code": "640521", "town_code": "640521100", "products": ["zhongning-goji"]}
    data.update(fields)
    return client.post("/producers/new", data=data)


def test_producer_list_filters_and_scopes_by_county(client, session):
    factories.ProducerFactory(name="宁安甲合作社", kind="cooperative")
    factories.ProducerFactory(name="鸣沙乙农场", kind="family_farm", town_code="640521101")
    factories.ProducerFactory(name="海原丙公司", kind="enterprise", county_code="640522", town_code="640522100")
    factories.UserFactory(username="city", role="regulator")
    factories.UserFactory(username="zn", role="regulator", county_code="640521")
    session.commit()
    login(client, "city")
    page = client.get("/producers").get_data(as_text=True)
    assert all(n in page for n in ("宁安甲合作社", "鸣沙乙农场", "海原丙公司"))
    page = client.get("/producers?kind=family_farm").get_data(as_text=True)
    assert "鸣沙乙农场" in page and "宁安甲合作社" not in page
    page = client.get("/producers?town=640521100").get_data(as_text=True)
    assert "宁安甲合作社" in page and "鸣沙乙农场" not in page
    page = client.get("/producers?q=丙").get_data(as_text=True)
    assert "海原丙公司" in page and "宁安甲合作社" not in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "zn")
    page = client.get("/producers?county=640522").get_data(as_text=True)
    assert "海原丙公司" not in page and "宁安甲合作社" in page


def test_producer_list_filters_by_authorisation_status_today(client, session):
    factories.authorised_producer(name="已授权合作社")
    factories.ProducerFactory(name="未申请合作社")
    factories.UserFactory(username="city", role="admin")
    session.commit()
    login(client, "city")
    page = client.get("/producers?status=authorised").get_data(as_text=True)
    assert "已授权合作社" in page and "未申请合作社" not in page
    page = client.get("/producers?status=none").get_data(as_text=True)
    assert "未申请合作社" in page and "已授权合作社" not in page
    assert client.get("/producers?status=bogus&page=x&kind=%00").status_code == 200


def test_producer_list_paginates(client, session):
    for n in range(60):
        factories.ProducerFactory(name=f"合作社{n:03d}")
    factories.UserFactory(username="city", role="admin")
    session.commit()
    login(client, "city")
    assert client.get("/producers").get_data(as_text=True).count("<code>") == 50
    assert client.get("/producers?page=2").get_data(as_text=True).count("<code>") == 10


def test_county_regulator_cannot_see_or_touch_producer_in_another_county(client, session):
    haiyuan = factories.ProducerFactory(county_code="640522", town_code="640522100")
    factories.UserFactory(username="zn", role="regulator", county_code="640521")
    session.commit()
    login(client, "zn")
    assert client.get(f"/producers/{haiyuan.id}").status_code == 404
    token = csrf_token(client, "/producers")
    response = client.post(f"/producers/{haiyuan.id}/plots", data={
        "plot-csrf_token": token, "plot-town_code": "640522100", "plot-area_mu": "10"})
    assert response.status_code == 404
    response = _producer_form(client, county_code="640522", town_code="640522100", uscc=factories.valid_uscc(5))
    assert response.status_code in (403, 422)
    session.expire_all()
    assert session.exec(select(Plot)).all() == []
    assert len(session.exec(select(Producer)).all()) == 1


def test_producer_detail_shows_data_plots_marks_output_and_history(client, session):
    producer = factories.authorised_producer(name="宁夏红宝枸杞科技有限公司", kind="enterprise")
    factories.PlotFactory(producer_id=producer.id, cultivar="宁杞7号", area_mu=35.5)
    factories.TrademarkFactory(producer_id=producer.id, name="杞宝牌")
    factories.OutputFactory(producer_id=producer.id, year=2024, output_kg=9876)
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    page = client.get(f"/producers/{producer.id}").get_data(as_text=True)
    for text in ("宁夏红宝枸杞科技有限公司", producer.uscc, "宁杞7号", "35.5", "杞宝牌", "9,876",
                 "中宁地标许字〔2023〕", "2023年1月1日"):
        assert text in page, text


def test_create_producer_with_failed_check_character_needs_accepting_the_warning(client, session):
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    body = "93640521MA7ABC123"
    good = check_character(body)
    bad = body + ("0" if good != "0" else "1")
    response = _producer_form(client, uscc=bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _has_error_beside(html, "uscc") and 'name="accept_warning"' in html
    response = _producer_form(client, uscc=bad, accept_warning="y")
    assert response.status_code == 302
    session.expire_all()
    producer = session.exec(select(Producer).where(Producer.uscc == bad)).one()
    assert producer.uscc_check_ok is False and producer.uscc_warning_accepted_by is not None


def test_create_producer_form_shows_errors_beside_fields(client, session):
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    response = _producer_form(client, uscc="SHORT")
    assert response.status_code == 422 and _has_error_beside(response.get_data(as_text=True), "uscc")
    response = _producer_form(client, name="")
    assert response.status_code == 422 and _has_error_beside(response.get_data(as_text=True), "name")
    response = _producer_form(client, kind="household", uscc="", registry_no="")
    assert response.status_code == 422 and _has_error_beside(response.get_data(as_text=True), "registry_no")
    response = _producer_form(client, town_code="640522100", uscc=factories.valid_uscc(9))
    assert response.status_code == 422 and _has_error_beside(response.get_data(as_text=True), "town_code")
    response = _producer_form(client, kind="household", registry_no="ZW-0001")
    assert response.status_code == 302


def test_add_plot_trademark_and_output_forms(client, session):
    producer = factories.ProducerFactory()
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    token = csrf_token(client, f"/producers/{producer.id}")
    r = client.post(f"/producers/{producer.id}/plots", data={
        "plot-csrf_token": token, "plot-town_code": "640521102", "plot-area_mu": "12.5", "plot-cultivar": "宁杞5号"})
    assert r.status_code == 302
    r = client.post(f"/producers/{producer.id}/plots", data={
        "plot-csrf_token": token, "plot-town_code": "640521102", "plot-area_mu": "-1"})
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "plot-area_mu")
    r = client.post(f"/producers/{producer.id}/trademarks", data={"tm-csrf_token": token, "tm-name": "宁红"})
    assert r.status_code == 302
    for kg in ("1000", "1500"):  # the second corrects the first: one row per producer, product, year
        r = client.post(f"/producers/{producer.id}/outputs", data={
            "out-csrf_token": token, "out-product": "zhongning-goji", "out-year": "2024", "out-output_kg": kg,
            "out-output_value_yuan": "60000"})
        assert r.status_code == 302
    r = client.post(f"/producers/{producer.id}/outputs", data={
        "out-csrf_token": token, "out-product": "zhongning-goji", "out-year": "1800", "out-output_kg": "1",
        "out-output_value_yuan": "1"})
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "out-year")
    session.expire_all()
    assert [p.area_mu for p in session.exec(select(Plot)).all()] == [12.5]
    assert [t.name for t in session.exec(select(Trademark)).all()] == ["宁红"]
    assert [(o.year, o.output_kg) for o in session.exec(select(OutputRecord)).all()] == [(2024, 1500.0)]


def test_a_year_without_output_is_recorded_as_zero(client, session):
    """A frost year: 0 kg worth 0 yuan is a record (the service takes zero), not a missing field; a figure
    out of range names its bound as a person writes it (no "10000000000.0")."""
    producer = factories.ProducerFactory()
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    token = csrf_token(client, f"/producers/{producer.id}")
    r = client.post(f"/producers/{producer.id}/outputs", data={
        "out-csrf_token": token, "out-product": "zhongning-goji", "out-year": "2024", "out-output_kg": "0",
        "out-output_value_yuan": "0"})
    assert r.status_code == 302, r.get_data(as_text=True)
    session.expire_all()
    assert [(o.year, o.output_kg, o.output_value_yuan) for o in session.exec(select(OutputRecord)).all()] \
        == [(2024, 0.0, 0.0)]
    r = client.post(f"/producers/{producer.id}/outputs", data={
        "out-csrf_token": token, "out-product": "zhongning-goji", "out-year": "2024", "out-output_kg": "-1",
        "out-output_value_yuan": "1e14"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and _has_error_beside(page, "out-output_kg")
    assert _has_error_beside(page, "out-output_value_yuan")
    assert "10000000000" in page and ".0 " not in page


def _product_data(token, **fields):
    data = {"csrf_token": token, "slug": "haiyuan-potato", "name_zh": "海原马铃薯", "name_en": "Haiyuan potato",
            "holder": "海原县马铃薯产业协会", "kind_agricultural_gi": "y", "regno_agricultural_gi": "AGI2011-00000",
            "towns": ["640522100", "640522101"], "max_dried_yield_kg_per_mu": "3000", "season_start_mmdd": "09-01",
            "season_end_mmdd": "10-31", "target_share": "0.6"}
    data.update(fields)
    return data


def test_city_regulator_adds_a_gi_product_without_code_changes(client, session):
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    token = csrf_token(client, "/products/new")
    response = client.post("/products/new", data=_product_data(token))
    assert response.status_code == 302
    session.expire_all()
    product = session.exec(select(Product).where(Product.slug == "haiyuan-potato")).one()
    towns = session.exec(select(ProductTown.town_code).where(ProductTown.product_id == product.id)).all()
    assert sorted(towns) == ["640522100", "640522101"]
    page = client.get("/products/haiyuan-potato").get_data(as_text=True)
    assert "海原马铃薯" in page and "AGI2011-00000" in page
    token = csrf_token(client, "/products/haiyuan-potato/edit")
    response = client.post("/products/haiyuan-potato/edit", data=_product_data(token, towns=["640522103"]))
    assert response.status_code == 302
    session.expire_all()
    assert session.exec(select(ProductTown.town_code).where(ProductTown.product_id == product.id)).all() == [
        "640522103"]


def test_product_form_shows_errors_beside_fields(client, session):
    factories.UserFactory(username="city", role="admin")
    session.commit()
    login(client, "city")
    token = csrf_token(client, "/products/new")
    r = client.post("/products/new", data=_product_data(token, slug="Bad Slug"))
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "slug")
    r = client.post("/products/new", data=_product_data(token, slug="zhongning-goji"))
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "slug")
    r = client.post("/products/new", data=_product_data(token, towns=[]))
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "towns")
    r = client.post("/products/new", data=_product_data(token, season_end_mmdd="13-40"))
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "season_end_mmdd")
    r = client.post("/products/new", data=_product_data(token, kind_agricultural_gi=""))
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)


def test_county_regulator_cannot_define_products(client, session):
    factories.UserFactory(username="zn", role="regulator", county_code="640521")
    session.commit()
    login(client, "zn")
    assert client.get("/products").status_code == 200
    assert client.get("/products/new").status_code == 403
    token = csrf_token(client, "/products")
    assert client.post("/products/new", data=_product_data(token)).status_code == 403


def test_sector_totals_list_and_form(client, session):
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    token = csrf_token(client, "/sector-totals")
    data = {"csrf_token": token, "product": "zhongning-goji", "year": "2024", "county_code": "640521",
            "producers_total": "3660", "output_value_yuan": "1200000000", "source": "中宁县统计局"}
    assert client.post("/sector-totals", data=data).status_code == 302
    r = client.post("/sector-totals", data=data)  # same product, year, area again
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "year")
    r = client.post("/sector-totals", data=dict(data, year="2025", county_code="", source=""))
    assert r.status_code == 422 and _has_error_beside(r.get_data(as_text=True), "source")
    assert client.post("/sector-totals", data=dict(data, county_code="")).status_code == 302
    session.expire_all()
    rows = session.exec(select(SectorTotal).order_by(SectorTotal.id)).all()
    assert [(r.county_code, r.producers_total) for r in rows] == [("640521", 3660), (None, 3660)]
    page = client.get("/sector-totals").get_data(as_text=True)
    assert "中宁县统计局" in page and "3,660" in page


def test_producer_account_cannot_open_register_pages(client, session):
    producer = factories.ProducerFactory()
    factories.producer_user(producer, "grower")
    session.commit()
    login(client, "grower")
    for path in ("/producers", f"/producers/{producer.id}", "/products", "/sector-totals",
                 "/authorisations/pending"):
        assert client.get(path).status_code == 403, path


def test_edit_form_of_goji_shows_its_protected_towns_and_keeps_its_templates(client, session):
    from gi_trace.registry.reference import GOJI_TOWNS

    factories.UserFactory(username="city", role="admin")
    session.commit()
    login(client, "city")
    html = client.get("/products/zhongning-goji/edit").get_data(as_text=True)
    for town in GOJI_TOWNS:
        assert re.search(r'checked[^>]*value="' + town + '"|value="' + town + '"[^>]*checked', html), town
    assert not re.search(r'value="640521206"[^>]*checked', html)
    goji = factories.goji()
    stages = goji.stage_template
    token = csrf_token(client, "/products/zhongning-goji/edit")
    response = client.post("/products/zhongning-goji/edit", data={
        "csrf_token": token, "slug": "zhongning-goji", "name_zh": "中宁枸杞", "name_en": "Zhongning goji",
        "holder": goji.holder, "kind_certification_mark": "y", "kind_agricultural_gi": "y", "towns": GOJI_TOWNS,
        "max_dried_yield_kg_per_mu": "380", "fresh_dried_ratio_min": "3.5", "fresh_dried_ratio_max": "5",
        "max_moisture_pct": "13", "season_start_mmdd": "05-20", "season_end_mmdd": "10-31", "target_share": "0.6"})
    assert response.status_code == 302
    session.expire_all()
    goji = factories.goji()
    assert goji.max_dried_yield_kg_per_mu == 380 and goji.stage_template == stages


def test_deregistration_on_the_producer_page_records_who_why_and_leaves_later_counts(client, session):
    from datetime import date

    producer = factories.ProducerFactory(name="歇业合作社", registered_on=date(2020, 1, 1))
    other_county = factories.ProducerFactory(county_code="640522", town_code="640522100")
    zn = factories.UserFactory(username="zn", role="regulator", county_code="640521")
    session.commit()
    login(client, "zn")
    page = f"/producers/{producer.id}"
    token = csrf_token(client, page)
    # errors beside the fields, nothing recorded
    bad = client.post(page + "/deregister", data={"dereg-csrf_token": token, "dereg-deregistered_on": "2019-12-31",
                                                   "dereg-reason": "歇业"})
    assert bad.status_code == 422
    assert _has_error_beside(bad.get_data(as_text=True), "dereg-deregistered_on")
    missing = client.post(page + "/deregister", data={"dereg-csrf_token": token,
                                                       "dereg-deregistered_on": "2025-06-30", "dereg-reason": ""})
    assert missing.status_code == 422 and _has_error_beside(missing.get_data(as_text=True), "dereg-reason")
    session.expire_all()
    assert session.get(Producer, producer.id).deregistered_on is None
    # another county's producer: not this regulator's to change
    assert client.post(f"/producers/{other_county.id}/deregister", data={
        "dereg-csrf_token": token, "dereg-deregistered_on": "2025-06-30", "dereg-reason": "歇业"}).status_code == 404
    done = client.post(page + "/deregister", data={"dereg-csrf_token": token,
                                                    "dereg-deregistered_on": "2025-06-30", "dereg-reason": "歇业注销"})
    assert done.status_code == 302
    session.expire_all()
    stored = session.get(Producer, producer.id)
    assert stored.deregistered_on == date(2025, 6, 30) and stored.deregistered_by == zn.id
    assert stored.deregistration_reason == "歇业注销" and stored.deregistration_recorded_at is not None
    html = client.get(page).get_data(as_text=True)
    assert "2025年6月30日" in html and "歇业注销" in html and "dereg-reason" not in html  # no second form
    # a second deregistration is refused and the first one stands
    again = client.post(page + "/deregister", data={"dereg-csrf_token": token,
                                                     "dereg-deregistered_on": "2025-07-01", "dereg-reason": "x"})
    assert again.status_code in (409, 422)
    session.expire_all()
    assert session.get(Producer, producer.id).deregistered_on == date(2025, 6, 30)
    # the denominators: counted on 2025-06-29, not from 2025-06-30
    from sqlalchemy import func

    from gi_trace.oversight.compliance.queries import on_register
    counted = lambda day: session.execute(select(func.count()).select_from(Producer.__table__).where(  # noqa: E731
        on_register(day), Producer.__table__.c.id == producer.id)).scalar_one()
    assert (counted(date(2025, 6, 29)), counted(date(2025, 6, 30))) == (1, 0)
