"""Authorisation pages: the public register, producers applying, regulators deciding."""
import re
from datetime import date

from sqlmodel import select

from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.timeutil import local_today
from tests import factories
from tests.conftest import csrf_token, login


def _decision_form(client, producer_id, **fields):
    token = csrf_token(client, f"/producers/{producer_id}")
    data = {"dec-csrf_token": token, "dec-product": "zhongning-goji", "dec-action": "approve",
            "dec-effective_date": local_today().isoformat(), "dec-reference_no": "", "dec-valid_until": "",
            "dec-reason": ""}
    data.update({f"dec-{k}": v for k, v in fields.items()})
    return client.post(f"/producers/{producer_id}/authorisations", data=data)


def _decisions(session, producer_id):
    session.expire_all()
    return session.exec(select(AuthorisationDecision).where(AuthorisationDecision.producer_id == producer_id)
                        .order_by(AuthorisationDecision.id)).all()


def test_public_register_is_open_and_shows_status_and_dates(client, session):
    authorised = factories.authorised_producer(name="宁安红宝枸杞合作社")
    suspended = factories.authorised_producer(name="鸣沙停用合作社", town_code="640521101")
    factories.DecisionFactory(producer_id=suspended.id, action="suspend", effective_date=date(2024, 5, 6),
                              reference_no="", reason="抽检不合格")
    pending = factories.ProducerFactory(name="待审合作社")
    factories.DecisionFactory(producer_id=pending.id, action="apply", effective_date=date(2024, 1, 1),
                              reference_no="")
    session.commit()
    page = client.get("/authorised-users?lang=en").get_data(as_text=True)
    assert "宁安红宝枸杞合作社" in page and authorised.uscc in page
    assert "中宁地标许字〔2023〕" in page and "1 Jan 2023" in page
    assert "鸣沙停用合作社" in page and "6 May 2024" in page and "suspended" in page
    assert "待审合作社" not in page  # applications are not public


def test_public_register_filters_by_status_and_county(client, session):
    factories.authorised_producer(name="在用合作社")
    gone = factories.authorised_producer(name="撤销合作社")
    factories.DecisionFactory(producer_id=gone.id, action="revoke", effective_date=date(2024, 2, 1),
                              reference_no="", reason="冒用")
    session.commit()
    page = client.get("/authorised-users?status=revoked").get_data(as_text=True)
    assert "撤销合作社" in page and "在用合作社" not in page
    page = client.get("/authorised-users?county=640522").get_data(as_text=True)
    assert "在用合作社" not in page and "撤销合作社" not in page
    page = client.get("/authorised-users?county=640521&product=zhongning-goji").get_data(as_text=True)
    assert "在用合作社" in page


def test_public_register_survives_junk_parameters(client):
    response = client.get("/authorised-users?product=nope&county=x&status=%00&page=-3")
    assert response.status_code == 200


def test_public_register_paginates(client, session):
    for n in range(55):
        factories.authorised_producer(name=f"合作社{n:02d}")
    session.commit()
    first = client.get("/authorised-users").get_data(as_text=True)
    second = client.get("/authorised-users?page=2").get_data(as_text=True)
    assert first.count("<code>") == 50 and second.count("<code>") == 5
    assert 'rel="next"' in first


def test_producer_cannot_decide_on_authorisations(client, session):
    producer = factories.grower()
    factories.producer_user(producer, "grower")
    session.commit()
    login(client, "grower")
    token = csrf_token(client, "/my/authorisations")
    response = client.post(f"/producers/{producer.id}/authorisations", data={
        "dec-csrf_token": token, "dec-product": "zhongning-goji", "dec-action": "approve",
        "dec-effective_date": "2025-01-01", "dec-reference_no": "X1"})
    assert response.status_code == 403
    assert _decisions(session, producer.id) == []
    assert client.get(f"/producers/{producer.id}").status_code == 403


def test_producer_applies_for_itself_only(client, session):
    mine = factories.ProducerFactory(name="自己的合作社")
    other = factories.ProducerFactory(name="别人的合作社")
    user = factories.producer_user(mine, "grower")
    session.commit()
    login(client, "grower")
    page = client.get("/my/authorisations").get_data(as_text=True)
    assert "自己的合作社" in page and "别人的合作社" not in page
    token = csrf_token(client, "/my/authorisations")
    response = client.post("/my/authorisations/zhongning-goji/apply", data={"csrf_token": token})
    assert response.status_code == 302
    rows = _decisions(session, mine.id)
    assert [(d.action, d.decided_by, d.effective_date) for d in rows] == [("apply", user.id, local_today())]
    assert _decisions(session, other.id) == []
    # applying twice is refused with the reason, not a 500
    response = client.post("/my/authorisations/zhongning-goji/apply", data={"csrf_token": token})
    assert response.status_code in (302, 422)
    assert len(_decisions(session, mine.id)) == 1


def test_producer_apply_refused_while_authorised_shows_reason(client, session):
    mine = factories.authorised_producer()
    factories.producer_user(mine, "grower")
    session.commit()
    login(client, "grower")
    page = client.get("/my/authorisations?lang=en").get_data(as_text=True)
    assert "authorised" in page and "Apply to use" not in page
    token = csrf_token(client, "/my/authorisations")
    response = client.post("/my/authorisations/zhongning-goji/apply?lang=en", data={"csrf_token": token})
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)


def test_regulator_approves_and_decision_records_who_and_when(client, session):
    producer = factories.grower()
    officer = factories.UserFactory(username="officer", role="regulator", county_code="640521")
    session.commit()
    login(client, "officer")
    response = _decision_form(client, producer.id, reference_no="中宁地标许字〔2025〕7号",
                              valid_until="2028-12-31", effective_date="2025-03-01")
    assert response.status_code == 302
    response = _decision_form(client, producer.id, action="suspend", effective_date="2025-06-01",
                              reason="抽检不合格")
    assert response.status_code == 302
    rows = _decisions(session, producer.id)
    assert [(d.action, d.decided_by) for d in rows] == [("approve", officer.id), ("suspend", officer.id)]
    assert all(d.recorded_at is not None and d.recorded_at.tzinfo is not None for d in rows)
    assert rows[0].valid_until == date(2028, 12, 31) and rows[0].reference_no == "中宁地标许字〔2025〕7号"
    page = client.get(f"/producers/{producer.id}").get_data(as_text=True)
    assert "officer" in page and "抽检不合格" in page and "中宁地标许字〔2025〕7号" in page


def test_approving_out_of_area_producer_is_refused_with_reason(client, session):
    outside = factories.ProducerFactory(town_code="640521206")  # 太阳梁乡: in the county, not protected
    factories.UserFactory(username="officer", role="regulator")
    session.commit()
    login(client, "officer")
    response = _decision_form(client, outside.id, reference_no="R1")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'class="field has-error">\s*<label for="dec-action"', html)
    assert "640521206" in html and "field-error" in html
    assert _decisions(session, outside.id) == []


def test_decision_form_errors_are_shown_beside_fields(client, session):
    producer = factories.authorised_producer()
    factories.UserFactory(username="officer", role="admin")
    session.commit()
    login(client, "officer")
    response = _decision_form(client, producer.id, action="revoke", reason="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'class="field has-error">\s*<label for="dec-reason"', html)
    response = _decision_form(client, producer.id, action="reinstate")  # impossible while authorised
    assert response.status_code == 422
    assert re.search(r'class="field has-error">\s*<label for="dec-action"', response.get_data(as_text=True))
    response = _decision_form(client, producer.id, effective_date="not-a-date")
    assert response.status_code == 422
    assert re.search(r'class="field has-error">\s*<label for="dec-effective_date"', response.get_data(as_text=True))
    assert len(_decisions(session, producer.id)) == 1


def test_county_regulator_cannot_decide_in_another_county(client, session):
    haiyuan = factories.ProducerFactory(county_code="640522", town_code="640522100")
    factories.DecisionFactory(producer_id=haiyuan.id, action="apply", reference_no="")
    factories.UserFactory(username="zn", role="regulator", county_code="640521")
    session.commit()
    login(client, "zn")
    token = csrf_token(client, "/producers")
    response = client.post(f"/producers/{haiyuan.id}/authorisations", data={
        "dec-csrf_token": token, "dec-product": "zhongning-goji", "dec-action": "reject",
        "dec-effective_date": "2025-01-01", "dec-reason": "不符合"})
    assert response.status_code in (403, 404)
    assert len(_decisions(session, haiyuan.id)) == 1
    assert "640522" not in client.get("/authorisations/pending").get_data(as_text=True)


def test_pending_queue_lists_applications_in_scope(client, session):
    mine = factories.ProducerFactory(name="县内申请")
    far = factories.ProducerFactory(name="县外申请", county_code="640502", town_code="640502100")
    for p in (mine, far):
        factories.DecisionFactory(producer_id=p.id, action="apply", reference_no="", effective_date=date(2025, 1, 2))
    factories.UserFactory(username="zn", role="regulator", county_code="640521")
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "zn")
    page = client.get("/authorisations/pending").get_data(as_text=True)
    assert "县内申请" in page and "县外申请" not in page
    client.get("/")
    token = csrf_token(client, "/")
    client.post("/logout", data={"csrf_token": token})
    login(client, "city")
    page = client.get("/authorisations/pending").get_data(as_text=True)
    assert "县内申请" in page and "县外申请" in page


def test_anonymous_sees_public_pages_and_is_sent_to_login_elsewhere(client, session):
    producer = factories.grower()
    session.commit()
    assert client.get("/authorised-users").status_code == 200
    for path in ("/producers", "/producers/new", f"/producers/{producer.id}", "/products", "/products/new",
                 "/products/zhongning-goji", "/products/zhongning-goji/edit", "/sector-totals",
                 "/my/authorisations", "/authorisations/pending"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path in (f"/producers/{producer.id}/authorisations", f"/producers/{producer.id}/plots",
                 "/my/authorisations/zhongning-goji/apply"):
        response = client.post(path)
        assert response.status_code in (302, 400), path
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]


def test_public_register_shows_notice_scope_and_reason_category_but_no_household_names(client, session):
    from gi_trace.authorisation.models import AuthorisationDecision

    firm = factories.ProducerFactory(kind="enterprise", name="中宁县杞源枸杞有限公司")
    factories.TrademarkFactory(producer_id=firm.id, name="杞源牌")
    session.add(AuthorisationDecision(producer_id=firm.id, product_id=factories.goji().id, action="approve",
                                      effective_date=date(2024, 1, 5), reference_no="中宁地标许字〔2024〕9号",
                                      notice_no="公告〔2024〕2号", source="test"))
    home = factories.ProducerFactory(kind="household", uscc=None, registry_no="ZW-9", name="李秀英")
    factories.DecisionFactory(producer_id=home.id, effective_date=date(2023, 1, 1))
    factories.DecisionFactory(producer_id=home.id, action="revoke", effective_date=date(2024, 6, 1), reason="",
                              reason_code="unused_two_years")
    session.commit()
    page = client.get("/authorised-users").get_data(as_text=True)
    assert "公告〔2024〕2号" in page and "杞源牌" in page and "连续两年未使用" in page
    assert "李秀英" not in page and "ZW-9" in page


def test_pending_queue_shows_days_waiting_and_renewals_due(client, session):
    from gi_trace.timeutil import local_today
    from datetime import timedelta

    waiting = factories.ProducerFactory()
    factories.DecisionFactory(producer_id=waiting.id, action="apply", effective_date=local_today() - timedelta(days=9))
    ending = factories.ProducerFactory(name="快到期合作社")
    factories.DecisionFactory(producer_id=ending.id, effective_date=local_today() - timedelta(days=1000),
                              valid_until=local_today() + timedelta(days=30))
    factories.UserFactory(username="officer")
    session.commit()
    login(client, "officer")
    page = client.get("/authorisations/pending").get_data(as_text=True)
    assert "<td>9</td>" in page and "快到期合作社" in page and "<td>30</td>" in page


def test_decision_form_offers_the_latest_passing_test_report_from_the_record(client, session):
    # The evidence an approval carries: the latest test whose measured values pass (never a failing or a
    # later failing one, never another producer's), offered in the form and named beside the field.
    from tests.tracing_labels_support import TESTED, dried_batch, failed_batch, lab_report, passed_batch, record

    producer = factories.authorised_producer(name="送检合作社")
    user = factories.producer_user(producer, "grower")
    _p, _u, tested = dried_batch(session, producer, user)
    record(session, user, tested, "testing", TESTED, lab_report(report="QS-2026-007"))
    _p, _u, failing = failed_batch(session, producer, user)
    record(session, user, failing, "testing", TESTED, lab_report(moisture=16.0, report="QS-2026-099"))
    other = factories.authorised_producer(name="别家合作社", town_code="640521101")
    passed_batch(session, other, factories.producer_user(other, "other"))
    bare = factories.ProducerFactory(name="未送检合作社")
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    page = client.get(f"/producers/{producer.id}").get_data(as_text=True)
    assert re.search(r'id="dec-test_report_no"[^>]*value="QS-2026-007"', page)
    assert "记录中最近一次合格检测" in page and "宁夏食品检测中心" in page and "QS-2026-099" not in page
    empty = client.get(f"/producers/{bare.id}").get_data(as_text=True)
    assert not re.search(r'id="dec-test_report_no"[^>]*value="QS', empty)
    assert "记录中尚无含实测数值的合格检测" in empty
