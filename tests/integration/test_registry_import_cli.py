"""`flask --app gi_trace import KIND FILE`: exit codes, every bad row on stderr, nothing written."""
from __future__ import annotations

import csv

import pytest
from sqlalchemy import func
from sqlmodel import select

from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.registry.models import OutputRecord, Producer
from tests import factories

HEADER = ["uscc", "registry_no", "name", "kind", "county_code", "town_code", "products"]
GOOD = [["912301847345944427", "", "中宁红宝枸杞有限公司", "enterprise", "640521", "640521100", "zhongning-goji"],
        ["", "ZN-HH-1", "张三", "household", "640521", "640521200", "zhongning-goji"]]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_LOCALE": "en"}


def write(path, header, rows, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def producers_in_db(session) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(Producer)).one()


def test_good_file_is_imported_and_counts_are_printed(runner, session, tmp_path):
    path = write(tmp_path / "producers.csv", HEADER, GOOD, encoding="utf-8-sig")
    result = runner.invoke(args=["import", "producers", path])
    assert result.exit_code == 0, result.output
    assert "2 rows; inserted 2, updated 0, unchanged 0" in result.stdout
    assert producers_in_db(session) == 2
    again = runner.invoke(args=["import", "producers", path])
    assert again.exit_code == 0 and "inserted 0, updated 0, unchanged 2" in again.stdout
    assert producers_in_db(session) == 2


def test_bad_rows_go_to_stderr_exit_1_and_nothing_is_written(runner, session, tmp_path):
    rows = GOOD + [["", "", "李四", "household", "640521", "640521200", ""],
                   ["123", "", "王五", "enterprise", "640521", "640599100", ""]]
    path = write(tmp_path / "producers.csv", HEADER, rows)
    result = runner.invoke(args=["import", "producers", path])
    assert result.exit_code == 1
    assert "row 4, column registry_no:" in result.stderr
    assert "row 5, column uscc:" in result.stderr and "row 5, column town_code:" in result.stderr
    assert "Nothing was imported: 3 problems" in result.stderr
    assert producers_in_db(session) == 0


def test_missing_column_exits_1_naming_it(runner, session, tmp_path):
    path = write(tmp_path / "output.csv", ["producer", "product", "year"], [["x", "zhongning-goji", "2024"]])
    result = runner.invoke(args=["import", "output", path])
    assert result.exit_code == 1
    assert "row 1, column output_kg:" in result.stderr and "row 1, column output_value_yuan:" in result.stderr


def test_check_character_warning_needs_accept_warnings(runner, session, tmp_path):
    rows = [["912301847345944428", "", "校验码不符", "enterprise", "640521", "640521100", "zhongning-goji"]]
    path = write(tmp_path / "producers.csv", HEADER, rows)
    result = runner.invoke(args=["import", "producers", path])
    assert result.exit_code == 1 and "warning: row 2, column uscc:" in result.stderr
    assert "--accept-warnings" in result.stderr and producers_in_db(session) == 0
    result = runner.invoke(args=["import", "producers", path, "--accept-warnings"])
    assert result.exit_code == 0 and producers_in_db(session) == 1
    assert session.exec(select(Producer.uscc_check_ok)).one() is False


def test_dry_run_writes_nothing(runner, session, tmp_path):
    path = write(tmp_path / "producers.csv", HEADER, GOOD)
    result = runner.invoke(args=["import", "producers", path, "--dry-run"])
    assert result.exit_code == 0 and "inserted 2" in result.stdout and "Dry run" in result.stdout
    assert producers_in_db(session) == 0


def test_as_user_records_who_decided_and_limits_the_county(runner, session, tmp_path):
    producer = factories.ProducerFactory()
    factories.PlotFactory(producer_id=producer.id)  # a grower's evidence for the approval
    factories.UserFactory(username="zn", role="regulator", county_code="640521")
    factories.UserFactory(username="hy", role="regulator", county_code="640522")
    session.commit()
    header = ["producer", "product", "action", "effective_date", "reference_no", "reason"]
    path = write(tmp_path / "decisions.csv", header,
                 [[producer.uscc, "zhongning-goji", "approve", "2024-01-01", "REF-1", ""]])
    refused = runner.invoke(args=["import", "authorisations", path, "--as", "hy"])
    assert refused.exit_code == 1 and "row 2, column producer:" in refused.stderr
    result = runner.invoke(args=["import", "authorisations", path, "--as", "zn"])
    assert result.exit_code == 0, result.output
    session.rollback()
    decision = session.exec(select(AuthorisationDecision)).one()
    assert decision.source == "import" and decision.decided_by is not None
    unknown = runner.invoke(args=["import", "authorisations", path, "--as", "nobody"])
    assert unknown.exit_code == 1 and "nobody" in unknown.output


def test_unreadable_file_is_a_clean_error(runner, session, tmp_path):
    path = tmp_path / "producers.xlsx"
    path.write_bytes(b"not a workbook")
    result = runner.invoke(args=["import", "producers", str(path)])
    assert result.exit_code == 1 and "Error:" in result.output and "Traceback" not in result.output


def test_long_file_shows_progress_and_imports(runner, session, tmp_path, monkeypatch):
    import gi_trace.registry.cli_import as cli

    producers = [factories.ProducerFactory() for _ in range(3)]
    session.commit()
    rows = [[p.uscc, "zhongning-goji", year, 100 + year, 1000]
            for year in range(2000, 2074) for p in producers]
    header = ["producer", "product", "year", "output_kg", "output_value_yuan"]
    path = write(tmp_path / "output.csv", header, rows)
    monkeypatch.setattr(cli, "PROGRESS_FROM_ROWS", 10)  # a bar from 10 rows on, so a small file shows one
    result = runner.invoke(args=["import", "output", path])
    assert result.exit_code == 0, result.output
    assert "Importing output.csv" in result.stderr and f"inserted {len(rows)}" in result.stdout
    session.rollback()
    assert session.exec(select(func.count()).select_from(OutputRecord)).one() == len(rows)
