"""A day's purchases from a spreadsheet: every bad row named, all or nothing, through the CLI too."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.tracing.models import Purchase
from gi_trace.tracing.purchase_import import import_purchases
from tests.factories import ProducerFactory, authorised_producer, producer_user  # noqa: F401
from tests.factories_tracing import Grower
from tests.integration.test_registry_import import csv_bytes, xlsx_bytes

HEADER = ["buyer", "seller", "seller_name", "town_code", "quantity_kg", "purchased_at", "source_batch", "grade"]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_LOCALE": "en"}


@pytest.fixture
def day(session):
    grower = Grower.make(session)
    batch = grower.tested(session)
    dealer = authorised_producer(kind="trader")
    rows = [
        [dealer.code, grower.producer.code, "", "", "30", "2025-08-11 09:00", batch.code, "特级"],
        [dealer.code, "", "王五", "640521104", "25.5", "2025-08-11", "", ""],
        [dealer.code, "", "马六", "640521206", "12", "2025-08-11T10:00:00+08:00", "", "甲级"],
    ]
    return grower, batch, dealer, producer_user(dealer), rows


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_purchases_import_records_every_row(session, day, fmt):
    grower, batch, dealer, user, rows = day
    data = csv_bytes(HEADER, rows) if fmt == "csv" else xlsx_bytes(HEADER, rows)
    result = import_purchases(session, user, data, filename=f"day.{fmt}")
    assert result.ok and result.inserted == 3, result.errors
    assert batch.available_kg == 210.0
    origins = sorted(p.source_batch_id is not None for p in session.exec(select(Purchase)).all())
    assert origins == [False, False, True]


def test_bad_rows_are_all_named_and_nothing_is_kept(session, day):
    grower, batch, dealer, user, rows = day
    rows = rows + [[dealer.code, "", "", "640521104", "5", "2025-08-11", "", ""],  # no seller at all
                   [dealer.code, grower.producer.code, "", "", "9999", "2025-08-12", batch.code, ""],  # too much
                   ["SOMEONE-ELSE", "", "赵七", "640521104", "5", "2025-08-11", "", ""]]
    result = import_purchases(session, user, csv_bytes(HEADER, rows), filename="day.csv")
    assert not result.ok
    assert [(p.row, p.column) for p in result.errors] == [(5, "seller_name"), (6, "quantity_kg"), (7, "buyer")]


def test_cli_imports_purchases_all_or_nothing(runner, session, day, tmp_path):
    grower, batch, dealer, user, rows = day
    session.commit()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(HEADER, rows + [[dealer.code, "", "", "", "5", "2025-08-11", "", ""]]))
    refused = runner.invoke(args=["import", "purchases", str(bad), "--as", user.username])
    assert refused.exit_code == 1 and "row 5" in refused.output
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(HEADER, rows))
    done = runner.invoke(args=["import", "purchases", str(good), "--as", user.username])
    assert done.exit_code == 0, done.output
    session.expire_all()
    assert len(session.exec(select(Purchase)).all()) == 3
