"""`flask --app gi_trace report annual ...`: the annual GI supervision report as files."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from gi_trace.db import session_scope
from gi_trace.errors import DomainError
from gi_trace.oversight import compliance as c
from gi_trace.oversight import report

report_cli = AppGroup("report", help="Supervision reports.")


@report_cli.command("annual")
@click.option("--product", "product_slug", required=True, help="Product slug, e.g. zhongning-goji.")
@click.option("--year", required=True, help="The reporting year.")
@click.option("--county", "county_code", default=None, help="Limit to one county (6-digit code).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write report.html, report.json, tables/*.csv and tables.xlsx into.")
def annual_cmd(product_slug, year, county_code, out_dir):
    """Write the annual GI supervision report (地理标志保护监管年度报告) for a product and year."""
    try:
        with session_scope() as session:
            query = c.parse_query(session, product_slug, year, county_code)
            data = report.build_report(session, query.product, query.year, query.county_code, as_of=query.as_of)
            paths = report.write_report(data, out_dir)
    except DomainError as exc:
        field = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{field}") from exc
    for path in paths:
        click.echo(str(path))


def register(app: Flask) -> None:
    app.cli.add_command(report_cli)
