"""`flask --app gi_trace compliance ...`: the 专栏4 shares from the command line."""
from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import with_appcontext

from gi_trace.db import session_scope
from gi_trace.errors import DomainError
from gi_trace.oversight import compliance as c


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


@click.command("compliance")
@click.option("--product", "product_slug", required=True, help="Product slug, e.g. zhongning-goji.")
@click.option("--year", required=True, help="The year Y whose output values are compared.")
@click.option("--county", "county_code", default=None, help="Limit to one county (6-digit code).")
@click.option("--as-of", "as_of", default=None,
              help="Status date YYYY-MM-DD (default: 31 December of the year, or today in the current year).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@with_appcontext
def compliance_cmd(product_slug, year, county_code, as_of, as_json):
    """The user share and output share of GI special-mark users against the target (专栏4)."""
    try:
        with session_scope() as session:
            query = c.parse_query(session, product_slug, year, county_code, as_of)
            result = c.compliance_for(session, query)
    except DomainError as exc:
        field = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{field}") from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"{result['product_name']} {result['year']}  as of {result['as_of']}  target {_pct(result['target'])}")
    header = f"{'area':<10}{'producers':>10}{'authorised':>11}{'user share':>11}{'output share':>13}"
    click.echo(header)
    rows = [("all" if result["county_code"] is None else result["county_code"], result)]
    rows += [(row["county_code"], row) for row in result["by_county"]]
    for name, row in rows:
        click.echo(f"{name:<10}{row['producers_total']:>10}{row['producers_authorised']:>11}"
                   f"{_pct(row['user_share']):>11}{_pct(row['output_share']):>13}")


def register(app: Flask) -> None:
    app.cli.add_command(compliance_cmd)
