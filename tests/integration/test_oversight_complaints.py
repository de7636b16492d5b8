"""Complaints: filing from the scan page or by staff, and the history of status changes."""
from __future__ import annotations

import pytest

from gi_trace.errors import ValidationError
from gi_trace.oversight.services import complaint_history, file_complaint
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
