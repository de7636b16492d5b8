"""Inspection and complaint pages through the test client."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.oversight.models import Inspection
from gi_trace.scan.complaints import file_complaint
from gi_trace.scan.models import Complaint, ComplaintUpdate
from gi_trace.timeutil import local_today
from tests.conftest import csrf_token, login
from tests.factories import DecisionFactory, ProducerFactory, UserFactory, producer_user


@pytest.fixture
def people(session):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id, effective_date=date(2023, 1, 1))
    UserFactory(username="city", display_name="市局张三")
    UserFactory(username="hy", county_code="640522")
    producer_user(producer, "grower")
    session.commit()
    return producer


def test_failed_inspection_page_suspends_in_one_step(client, session, people):
    login(client, "city")
    token = csrf_token(client, "/oversight/inspections")
    response = client.post("/oversight/inspections", data={
        "csrf_token": token, "producer_code": people.uscc, "inspected_on": local_today().isoformat(),
        "product": "zhongning-goji", "scope": "标签使用", "result": "fail", "findings": "超范围贴标",
        "suspend": "y", "suspension_reason": "检查不合格"})
    assert response.status_code == 302, response.get_data(as_text=True)
    inspection = session.exec(select(Inspection)).one()
    decision = session.exec(select(AuthorisationDecision).where(AuthorisationDecision.action == "suspend")).one()
    assert decision.inspection_id == inspection.id and decision.reason == "检查不合格"
    html = client.get("/oversight/inspections").get_data(as_text=True)
    assert "超范围贴标" in html and people.name in html


def test_inspection_form_error_shows_beside_the_field_and_records_nothing(client, session, people):
    login(client, "city")
    token = csrf_token(client, "/oversight/inspections")
    response = client.post("/oversight/inspections", data={
        "csrf_token": token, "producer_code": people.uscc, "inspected_on": local_today().isoformat(),
        "product": "zhongning-goji", "scope": "标签使用", "result": "pass", "findings": "",
        "suspend": "y", "suspension_reason": "x"})
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)
    assert session.exec(select(Inspection)).first() is None


def test_inspection_without_csrf_is_rejected(client, people):
    login(client, "city")
    response = client.post("/oversight/inspections", data={"producer_code": people.uscc})
    assert response.status_code in (400, 422)


def test_complaint_queue_moves_a_complaint_and_keeps_its_history(client, session, people):
    complaint = file_complaint(session, source="scan", category="counterfeit", text="<b>假货</b>", code="ABC",
                               producer_id=people.id, photo=b"\x89PNG....", photo_mime="image/png")
    session.commit()
    login(client, "city")
    queue = client.get("/oversight/complaints?status=new").get_data(as_text=True)
    assert f'/oversight/complaints/{complaint.id}"' in queue
    page = client.get(f"/oversight/complaints/{complaint.id}")
    html = page.get_data(as_text=True)
    assert "&lt;b&gt;假货&lt;/b&gt;" in html and "<b>假货</b>" not in html
    token = csrf_token(client, f"/oversight/complaints/{complaint.id}")
    city = session.exec(select(UserFactory._meta.model).where(UserFactory._meta.model.username == "city")).one()
    response = client.post(f"/oversight/complaints/{complaint.id}", data={
        "csrf_token": token, "status": "investigating", "assignee_id": str(city.id), "note": "已受理"})
    assert response.status_code == 302
    response = client.post(f"/oversight/complaints/{complaint.id}", data={
        "csrf_token": token, "status": "closed", "assignee_id": "", "note": "", "resolution": ""})
    assert response.status_code == 422 and "field-error" in response.get_data(as_text=True)
    response = client.post(f"/oversight/complaints/{complaint.id}", data={
        "csrf_token": token, "status": "closed", "assignee_id": "", "resolution": "移交执法"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Complaint, complaint.id).status == "closed"
    updates = session.exec(select(ComplaintUpdate).where(ComplaintUpdate.complaint_id == complaint.id)
                           .order_by(ComplaintUpdate.id)).all()
    assert [u.to_status for u in updates] == ["new", "investigating", "closed"]
    photo = client.get(f"/oversight/complaints/{complaint.id}/photo")
    assert photo.status_code == 200 and photo.mimetype == "image/png"


def test_staff_can_enter_a_complaint(client, session, people):
    login(client, "city")
    token = csrf_token(client, "/oversight/complaints/new")
    response = client.post("/oversight/complaints/new", data={
        "csrf_token": token, "category": "origin", "text": "市场抽查：疑似外地枸杞", "producer_code": people.uscc})
    assert response.status_code == 302
    complaint = session.exec(select(Complaint)).one()
    assert complaint.source == "staff" and complaint.producer_id == people.id


def test_other_county_regulator_gets_not_found(client, session, people):
    complaint = file_complaint(session, source="scan", category="quality", text="x", producer_id=people.id)
    session.commit()
    login(client, "hy")
    assert client.get(f"/oversight/complaints/{complaint.id}").status_code == 404
    assert client.get(f"/oversight/complaints/{complaint.id}/photo").status_code == 404
    assert f"/oversight/complaints/{complaint.id}" not in client.get("/oversight/complaints").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/oversight/inspections", "/oversight/complaints", "/oversight/complaints/new",
                                  "/oversight/complaints/1", "/oversight/complaints/1/photo"])
def test_producers_and_anonymous_users_are_kept_out(client, people, path):
    assert client.get(path).status_code == 302
    login(client, "grower")
    assert client.get(path).status_code == 403
