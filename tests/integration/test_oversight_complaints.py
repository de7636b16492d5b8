"""Complaints: filing from the scan page or by staff, and the history of status changes."""
from __future__ import annotations

import pytest

from gi_trace.errors import ValidationError
from gi_trace.oversight.services import complaint_history
from gi_trace.scan.complaints import file_complaint
from tests.factories import ProducerFactory, UserFactory


def test_scan_complaint_lands_in_queue_as_new_with_history(session):
    producer = ProducerFactory()
    complaint = file_complaint(session, source="scan", category="counterfeit", text="  标签与包装不符 ",
                               code="ABC123", producer_id=producer.id, scan_context={"scans": 7},
                               photo=b"\xff\xd8jpeg", photo_mime="image/jpeg")
    session.commit()
    assert complaint.id and complaint.status == "new"
    assert complaint.text == "标签与包装不符"
    assert complaint.scan_context == {"scans": 7}
    history = complaint_history(session, complaint.id)
    assert [(h.from_status, h.to_status) for h in history] == [("", "new")]


@pytest.mark.parametrize("kwargs, field", [
    ({"category": "nonsense"}, "category"),
    ({"text": "   "}, "text"),
    ({"text": "x" * 4001}, "text"),
    ({"contact": "1" * 201}, "contact"),
    ({"source": "email"}, "source"),
    ({"photo": b"x", "photo_mime": "text/html"}, "photo"),
    ({"photo": b"x" * (5 * 1024 * 1024 + 1), "photo_mime": "image/png"}, "photo"),
    ({"source": "staff"}, "user"),
])
def test_bad_complaint_is_refused_naming_the_field(session, kwargs, field):
    data = {"source": "scan", "category": "quality", "text": "有虫"} | kwargs
    with pytest.raises(ValidationError) as info:
        file_complaint(session, **data)
    assert info.value.field == field


def test_staff_complaint_records_who_entered_it(session):
    staff = UserFactory()
    complaint = file_complaint(session, source="staff", category="origin", text="市场抽查发现外地枸杞", user=staff)
    assert complaint.created_by == staff.id
    assert complaint_history(session, complaint.id)[0].by_user_id == staff.id


# --- the queue --------------------------------------------------------------------------------

from gi_trace.oversight.services import (  # noqa: E402
    InspectionInput,
    enter_complaint,
    list_complaints,
    list_inspections,
    record_inspection,
    update_complaint,
    visible_complaint,
)
from gi_trace.errors import Forbidden, NotFound, Refused  # noqa: E402
from datetime import date  # noqa: E402
from tests.factories import DecisionFactory, goji  # noqa: E402


def test_status_changes_are_kept_as_history_not_overwritten(session):
    regulator = UserFactory()
    helper = UserFactory()
    complaint = file_complaint(session, source="scan", category="quality", text="发霉")
    update_complaint(session, regulator, complaint, status="investigating", assignee_id=helper.id, note="已派人")
    with pytest.raises(ValidationError) as info:
        update_complaint(session, regulator, complaint, status="closed")
    assert info.value.field == "resolution"
    update_complaint(session, helper, complaint, status="closed", resolution="抽检合格，告知投诉人")
    assert complaint.status == "closed" and complaint.closed_at is not None
    assert complaint.assignee_id == helper.id and complaint.resolution == "抽检合格，告知投诉人"
    history = complaint_history(session, complaint.id)
    assert [(h.from_status, h.to_status, h.by_user_id) for h in history] == [
        ("", "new", None), ("new", "investigating", regulator.id), ("investigating", "closed", helper.id)]
    assert history[1].assignee_id == helper.id and history[1].note == "已派人"
    with pytest.raises(ValidationError):
        update_complaint(session, regulator, complaint, status="new")
    with pytest.raises(ValidationError) as info:
        update_complaint(session, regulator, complaint, status="investigating")
    assert info.value.field == "note"
    update_complaint(session, regulator, complaint, status="investigating", note="投诉人再次来电")
    assert complaint.status == "investigating" and complaint.closed_at is None


def test_assignee_must_be_a_regulator_who_may_handle_it(session):
    producer = ProducerFactory()
    complaint = file_complaint(session, source="scan", category="quality", text="x", producer_id=producer.id)
    grower = UserFactory(role="producer", producer_id=producer.id)
    other_county = UserFactory(county_code="640522")
    regulator = UserFactory()
    for bad in (grower.id, other_county.id, 999999):
        with pytest.raises(ValidationError) as info:
            update_complaint(session, regulator, complaint, assignee_id=bad)
        assert info.value.field == "assignee_id"


def test_county_regulator_sees_only_its_countys_complaints(session):
    zn_producer = ProducerFactory()
    hy_producer = ProducerFactory(county_code="640522", town_code="640522100", products=[])
    mine = file_complaint(session, source="scan", category="quality", text="a", producer_id=zn_producer.id)
    theirs = file_complaint(session, source="scan", category="quality", text="b", producer_id=hy_producer.id)
    unknown = file_complaint(session, source="scan", category="counterfeit", text="c", code="XXXX")
    zn = UserFactory(county_code="640521")
    city = UserFactory()
    assert [c.id for c in list_complaints(session, zn)[1]] == [mine.id]
    assert {c.id for c in list_complaints(session, city)[1]} == {mine.id, theirs.id, unknown.id}
    assert list_complaints(session, city, "new")[0] == 3
    with pytest.raises(NotFound):
        visible_complaint(session, zn, theirs.id)
    with pytest.raises(NotFound):
        update_complaint(session, zn, theirs, status="investigating")


def test_staff_complaint_is_linked_to_the_named_producer(session):
    producer = ProducerFactory()
    zn = UserFactory(county_code="640521")
    complaint = enter_complaint(session, zn, category="origin", text="市场发现", producer_code=producer.uscc)
    assert complaint.producer_id == producer.id and complaint.source == "staff"
    with pytest.raises(ValidationError) as info:
        enter_complaint(session, zn, category="origin", text="无主")
    assert info.value.field == "producer_code"
    hy = UserFactory(county_code="640522")
    with pytest.raises(NotFound):
        enter_complaint(session, hy, category="origin", text="x", producer_code=producer.uscc)


# --- inspections ------------------------------------------------------------------------------

def _inspection(producer, **kw):
    data = dict(producer_code=producer.uscc, inspected_on=date(2026, 3, 1), scope="晾晒场、标签使用",
                result="fail", findings="使用外地原料", product_slug="zhongning-goji", suspend=True,
                suspension_reason="检查不合格：使用外地原料")
    data.update(kw)
    return InspectionInput(**data)


def test_failed_inspection_suspends_in_the_same_step(session):
    from gi_trace.authorisation.services import history, status

    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id)
    inspector = UserFactory()
    inspection = record_inspection(session, inspector, _inspection(producer), today=date(2026, 3, 2))
    decisions = history(session, producer.id, goji().id)
    assert [d.action for d in decisions] == ["approve", "suspend"]
    suspend = decisions[-1]
    assert suspend.inspection_id == inspection.id and inspection.decision_id == suspend.id
    assert suspend.reason == "检查不合格：使用外地原料" and suspend.decided_by == inspector.id
    assert suspend.effective_date == date(2026, 3, 2) and suspend.source == "inspection"
    assert status(session, producer.id, goji().id, date(2026, 3, 2)).state == "suspended"
    assert inspection.inspector_id == inspector.id and inspection.created_at is not None


def test_failed_inspection_without_suspension_records_only_the_inspection(session):
    from gi_trace.authorisation.services import history

    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id)
    record_inspection(session, UserFactory(), _inspection(producer, suspend=False), today=date(2026, 3, 2))
    assert [d.action for d in history(session, producer.id, goji().id)] == ["approve"]


def test_suspension_of_a_producer_without_authorisation_is_refused(session):
    producer = ProducerFactory()
    with pytest.raises(Refused):
        record_inspection(session, UserFactory(), _inspection(producer), today=date(2026, 3, 2))


@pytest.mark.parametrize("kw, field", [
    ({"result": "pass"}, "suspend"),
    ({"result": "maybe", "suspend": False}, "result"),
    ({"scope": " "}, "scope"),
    ({"findings": "", "suspend": False}, "findings"),
    ({"inspected_on": date(2026, 3, 3)}, "inspected_on"),
    ({"suspension_reason": ""}, "suspension_reason"),
    ({"product_slug": ""}, "product_slug"),
    ({"producer_code": ""}, "producer_code"),
])
def test_bad_inspection_names_the_field(session, kw, field):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id)
    with pytest.raises(ValidationError) as info:
        record_inspection(session, UserFactory(), _inspection(producer, **kw), today=date(2026, 3, 2))
    assert info.value.field == field


def test_county_regulator_inspects_only_its_county(session):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id)
    with pytest.raises((NotFound, Forbidden)):
        record_inspection(session, UserFactory(county_code="640522"), _inspection(producer), today=date(2026, 3, 2))
    zn = UserFactory(county_code="640521")
    record_inspection(session, zn, _inspection(producer, suspend=False), today=date(2026, 3, 2))
    assert list_inspections(session, zn)[0] == 1
    assert list_inspections(session, UserFactory(county_code="640522"))[0] == 0
