"""Report sections over real records: traceability coverage, supervision, complaints."""
from __future__ import annotations

from datetime import date, datetime, timezone

from gi_trace.oversight import report as rep
from gi_trace.oversight.services import InspectionInput, record_inspection, update_complaint
from gi_trace.scan.complaints import file_complaint
from gi_trace.scan.models import CounterfeitFlag, ScanCounter
from tests.factories import OutputFactory, UserFactory, goji
from tests.factories_scan import lot_from_tested_harvest, unit_code

AUTUMN = datetime(2025, 9, 10, 2, 0, tzinfo=timezone.utc)


def test_report_sections_count_the_records_behind_them(session):
    grower, harvest, lot = lot_from_tested_harvest(session)  # 1000 kg fresh -> 240 kg dried, 100 kg lot
    OutputFactory(producer_id=grower.producer.id, year=2025, output_kg=480.0, output_value_yuan=1000.0)
    units = [unit_code(session, lot, serial=i) for i in range(1, 5)]
    for unit in units:
        unit.issued_at = AUTUMN
    session.add(ScanCounter(code=units[0].code, kind="unit", batch_id=lot.id, scans=3, networks=2))
    session.add(CounterfeitFlag(code=units[0].code, kind="unit", batch_id=lot.id, producer_id=grower.producer.id,
                                reason="scans", scans=30, networks=9, status="confirmed", raised_at=AUTUMN))
    inspector = UserFactory()
    record_inspection(session, inspector, InspectionInput(
        producer_code=grower.producer.uscc, inspected_on=date(2025, 9, 1), scope="标签", result="fail",
        findings="超量贴标", product_slug="zhongning-goji", suspend=True, suspension_reason="超量贴标"),
        today=date(2025, 9, 2))
    complaint = file_complaint(session, source="scan", category="counterfeit", text="同一码多处出现",
                               producer_id=grower.producer.id)
    complaint.created_at = AUTUMN
    update_complaint(session, inspector, complaint, status="closed", resolution="已查处")
    session.flush()
    data = rep.build_report(session, goji(), 2025, as_of=date(2025, 12, 31), today=date(2026, 3, 1))
    r = data["report"]
    t = r["traceability"]
    assert t["harvest_dried_kg"] == 240.0 and t["traced_kg"] == 240.0  # the dried harvest, lot included
    assert sum(row["kg"] for row in t["by_stage"]) == 240.0  # held per stage: 140 harvest + 100 lot, once each
    assert t["batches"] == 2 and t["labels_issued"] == 4 and t["labels_scanned"] == 1 and t["label_scans"] == 3
    # Suspended on 2 September: not an authorised user at year end, so no authorised output to trace.
    assert r["summary"]["compliance"]["producers_authorised"] == 0 and t["authorised_output_kg"] == 0
    s = r["supervision"]
    assert (s["inspections"], s["failed"], s["suspensions_from_inspections"]) == (1, 1, 1)
    k = r["complaints"]
    assert (k["received"], k["closed"], k["from_scan_page"]) == (1, 1, 1)
    assert k["signals"]["counterfeit"] == {"confirmed": 1}
    users = r["authorised_users"]["totals"]
    assert users["suspended"] == 1
    decisions = data["tables"]["decisions"]
    assert [row[2] for row in decisions] == ["suspend"]
    from gi_trace.oversight import report_document as doc

    files = doc.document_files(data, doc.Cover(doc.DEFAULT_AUTHORITY), pdf=False)
    assert "超量贴标" in files["report.html"].decode()
    assert files["tables/inspections.csv"].decode("utf-8-sig").count("\n") == 2


def test_movements_count_expiries_renewals_and_new_users_of_the_year(session):
    from gi_trace.oversight import report_figures as f
    from tests.factories import DecisionFactory, ProducerFactory

    def user(*decisions):
        producer = ProducerFactory()
        for action, day, until in decisions:
            DecisionFactory(producer_id=producer.id, action=action, effective_date=day, valid_until=until,
                            reason="r" if action in ("revoke", "suspend") else "")
        return producer

    user(("approve", date(2022, 6, 1), date(2025, 5, 31)))                                   # expires 1 June
    user(("approve", date(2022, 1, 1), date(2024, 12, 31)))                                  # expires 1 January
    user(("approve", date(2022, 9, 1), date(2025, 8, 31)), ("approve", date(2025, 8, 1), date(2028, 7, 31)))  # renewed
    user(("approve", date(2022, 10, 1), date(2025, 9, 30)), ("revoke", date(2025, 7, 1), None))  # revoked first
    user(("approve", date(2023, 1, 1), date(2025, 12, 31)))                                  # expires in 2026
    user(("approve", date(2023, 1, 1), date(2025, 3, 31)), ("suspend", date(2025, 2, 1), None))  # expires suspended
    user(("apply", date(2025, 2, 1), None), ("approve", date(2025, 3, 1), None))             # a new user
    session.flush()
    counties = f.city_counties(session)
    m = f.movements(session, goji(), 2025, counties)
    t = m["totals"]
    assert (t["expiries"], t["renewals"], t["new_users"], t["approvals"], t["revocations"]) == (3, 1, 1, 2, 1)
    assert m["by_county"]["640521"]["expiries"] == 3 and m["by_county"]["640502"]["expiries"] == 0
    assert m["by_reason"]["other"]["revocations"] == 1


def test_a_user_whose_batches_of_the_year_were_recorded_after_it_is_not_counted_as_unused(session):
    """Non-use (二、) counts users with no batch of the year: a batch of 2025's season entered in 2026 (as the demo
    does, and as late record-keeping does) is use of 2025, as 四、 counts it."""
    from gi_trace.oversight import report_figures as f
    from tests.factories import authorised_producer
    from tests.factories_tracing import Grower

    grower = Grower.make(session)
    batch = grower.tested(session)  # picked, dried and tested in July 2025
    batch.created_at = datetime(2026, 2, 1, tzinfo=timezone.utc)  # typed in afterwards
    idle = authorised_producer()
    session.flush()
    unused = f.dormant_users(session, goji(), 2025, date(2025, 12, 31))
    assert [row["producer_id"] for row in unused] == [idle.id]
