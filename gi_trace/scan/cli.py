"""`flask --app gi_trace pages ...`: the scan pages' stored part (see gi_trace.scan.stored_pages)."""
from __future__ import annotations

import sys

import click
from flask import Flask

from gi_trace.db import get_engine, session_scope
from gi_trace.scan import stored_pages
from gi_trace.tracing.chain import batch_count


@click.group("pages")
def pages_cli() -> None:
    """Stored trace pages: what a scan shows of a batch's record, built when the record changes."""


@pages_cli.command("rebuild")
@click.option("--stale", "stale_only", is_flag=True,
              help="Only pages that are missing or no longer match (after a release or a product edit).")
@click.option("--check", is_flag=True,
              help="Compare every stored page with a fresh build; replace and count those that differ.")
def rebuild_cmd(stale_only: bool, check: bool) -> None:
    """Build the stored trace pages of all batches (or only the stale ones) from their records."""
    with session_scope() as session:
        total = batch_count(session)
    with click.progressbar(length=total, label="Stored trace pages", file=sys.stderr) as bar:
        result = stored_pages.rebuild(get_engine(), stale_only=stale_only, check=check, on_chunk=bar.update)
    line = f"{result['batches']:,} batches looked at, {result['built']:,} pages written"
    if check:
        line += f", {result['differed']:,} differed from their record"
    click.echo(line)


def register(app: Flask) -> None:
    app.cli.add_command(pages_cli)
