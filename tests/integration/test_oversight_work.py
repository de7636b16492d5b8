"""Anomalies and the recall export, over batches made through the real tracing services."""
from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import load_workbook

from gi_trace.oversight import anomalies as a
from gi_trace.oversight import recall as r
from gi_trace.scan.models import CounterfeitFlag
from gi_trace.tracing import services as tracing
from tests.factories import DecisionFactory, OutputFactory, ProducerFactory, UserFactory, authorised_producer, goji
from tests.factories_scan import lot_from_tested_harvest, unit_code
from tests.factories_tracing import Grower


def test_recall_lists_every_event_upstream_and_downstream_with_source_and_destination(session):
    grower, harvest, lot = lot_from_tested_harvest(session)
    grower.event(session, lot, "distribution", "2025-08-20T10:00:00+08:00",
                 {"recipient": "银川某超市", "kg": 40.0, "destination": "银川"})
    rows = r.recall_rows(session, lot)
    up = [row for row in rows if row["direction"] == "upstream"]
    mine = [row for row in rows if row["direction"] == "batch"]
    assert {row["batch_code"] for row in up} == {harvest.code}
    assert [row["stage"] for row in up][:4] == ["planting", "harvest", "drying", "testing"]
    assert {row["batch_code"] for row in mine} == {lot.code}
    split_in = mine[0]
    assert harvest.code in split_in["source"] and "100 公斤" in split_in["source"]
    split_out = [row for row in up if lot.code in row["destination"]]
    assert split_out, up
    shipped = [row for row in mine if row["stage"] == "distribution"][0]
    assert "银川某超市" in shipped["destination"] and shipped["quantity_kg"] == 40.0
    assert shipped["occurred_at"].startswith("2025-08-20T10:00+08:00")
    assert "recipient=银川某超市" in shipped["key_data"]
    assert all(row["producer"] == grower.producer.name for row in rows)
    down = r.recall_rows(session, harvest)
    assert {row["batch_code"] for row in down if row["direction"] == "downstream"} == {lot.code}
    assert len(down) == len(rows)


def test_recall_files_are_sortable_tables(session):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    rows = r.recall_rows(session, lot)
    parsed = list(csv.reader(io.StringIO(r.to_csv(rows).decode("utf-8-sig"))))
    assert parsed[0] == [key for key, _l in r.COLUMNS] and len(parsed) == len(rows) + 1
    ws = load_workbook(io.BytesIO(r.to_xlsx(rows, title=lot.code))).active
    assert ws.max_row == len(rows) + 1 and ws.auto_filter.ref and ws.freeze_panes == "A2"


def test_spreadsheet_never_runs_entered_text_as_a_formula(session):
    row = {key: "" for key, _label in r.COLUMNS}
    row[r.COLUMNS[0][0]] = "=HYPERLINK(\"x\")"
    assert "'=HYPERLINK" in r.to_csv([row]).decode("utf-8-sig")
    assert r._cell(12.5) == 12.5


def test_anomalies_gather_every_kind_in_one_list(session):
    grower = Grower.make(session)
    batch = grower.dried(session)
    tracing.raise_flag(session, batch, "drying_ratio", {"ratio": 6.2, "low": 3.5, "high": 5.0})
    session.add(CounterfeitFlag(code=batch.code, kind="batch", batch_id=batch.id, producer_id=grower.producer.id,
                                reason="networks", scans=80, networks=31))
    for serial in range(1, 4):
        unit_code(session, batch, serial=serial, package_kg=100.0)
    OutputFactory(producer_id=grower.producer.id, year=2025, output_kg=250.0)
    dormant = authorised_producer()  # approved 2023-01-01, no batch, no output
    recent = ProducerFactory()
    DecisionFactory(producer_id=recent.id, effective_date=date(2026, 1, 1))
    active = authorised_producer()
    OutputFactory(producer_id=active.id, year=2025)
    # A dealer labels what it bought: it records no output of its own (the capacity page weighs its sources).
    dealer = Grower.make(session, kind="trader")
    unit_code(session, dealer.dried(session), serial=1, package_kg=100.0)
    session.flush()
    rows = a.anomalies(session, UserFactory(), goji(), as_of=date(2026, 6, 30))
    kinds = {row.kind: row for row in rows}
    assert set(kinds) == {"plausibility", "counterfeit", "dormant", "labels_beyond_output"}
    assert kinds["plausibility"].code == batch.code
    assert kinds["counterfeit"].producer_id == grower.producer.id
    assert [row.producer_id for row in rows if row.kind == "dormant"] == [dormant.id]
    beyond = kinds["labels_beyond_output"]
    assert [row.producer_id for row in rows if row.kind == "labels_beyond_output"] == [grower.producer.id]
    assert "300 千克" in beyond.detail and "250 千克" in beyond.detail and "300.0" not in beyond.detail
    assert "2023-01-01" not in kinds["dormant"].detail  # dates in words, as everywhere on the page
    only = a.anomalies(session, UserFactory(), goji(), as_of=date(2026, 6, 30), kind="dormant")
    assert {row.kind for row in only} == {"dormant"}


def test_county_regulator_sees_only_its_countys_anomalies(session):
    grower = Grower.make(session)
    batch = grower.dried(session)
    tracing.raise_flag(session, batch, "drying_ratio", {"ratio": 6.2, "low": 3.5, "high": 5.0})
    hy = UserFactory(county_code="640522")
    assert a.anomalies(session, hy, goji(), as_of=date(2026, 6, 30)) == []
    zn = UserFactory(county_code="640521")
    assert [row.kind for row in a.anomalies(session, zn, goji(), as_of=date(2026, 6, 30))] == ["plausibility"]


def test_months_before_clamps_to_month_end():
    assert a.months_before(date(2026, 8, 31), 18) == date(2025, 2, 28)
    assert a.months_before(date(2026, 6, 30), 18) == date(2024, 12, 30)


def test_staff_complaint_with_a_unit_code_links_batch_and_producer(session):
    from gi_trace.oversight.services import enter_complaint

    grower = Grower.make(session)
    batch = grower.dried(session)
    unit = unit_code(session, batch)
    complaint = enter_complaint(session, UserFactory(), category="counterfeit", text="同码多次出现",
                                code=unit.code.lower())
    assert (complaint.batch_id, complaint.producer_id, complaint.code) == (batch.id, grower.producer.id,
                                                                           unit.code)
