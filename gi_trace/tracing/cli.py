"""`flask --app gi_trace verify`: recompute every batch's hash chain."""
from __future__ import annotations

import sys

import click
from flask import Flask

from gi_trace.db import session_scope
from gi_trace.tracing import chain


@click.command("verify")
@click.option("--all-broken", is_flag=True, help="List every broken batch, not only the first.")
def verify_cmd(all_broken: bool) -> None:
    """Recompute every batch's event hash chain; name the first broken link and exit 1 if any."""
    broken = []
    with session_scope() as session:
        total = chain.batch_count(session)
        with click.progressbar(length=total, label="Verifying batches", file=sys.stderr) as bar:
            for item in chain.iter_verify_all(session, on_batch=bar.update):
                broken.append(item)
                if not all_broken:
                    break
    if broken:
        for item in broken:
            result = item.result
            click.echo(f"BROKEN batch {item.batch_code} at event {result.broken_seq}"
                       f"{f' (id {result.broken_event_id})' if result.broken_event_id else ''}: {result.reason}")
        raise SystemExit(1)
    click.echo(f"OK: {total} batches verified")


def register(app: Flask) -> None:
    app.cli.add_command(verify_cmd)
