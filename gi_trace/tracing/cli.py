"""`flask --app gi_trace verify`: recompute every batch's hash chain."""
from __future__ import annotations

import sys

import click
from flask import Flask
from sqlmodel import select

from gi_trace.db import session_scope
from gi_trace.errors import DomainError
from gi_trace.tracing import chain
from gi_trace.tracing.models import Batch
from gi_trace.tracing.services import batch_by_code


def _report(code: str, result: chain.ChainResult) -> None:
    event = f" (id {result.broken_event_id})" if result.broken_event_id else ""
    click.echo(f"BROKEN batch {code} at event {result.broken_seq}{event}: {result.reason}")


def _mark_broken(session, batch_ids) -> None:
    """Touch the broken batches: when the command's unit of work commits, what is derived from their records
    (the scan area's stored pages, theirs and those of the batches made from them) is refreshed and says
    that they do not verify."""
    for batch_id in batch_ids:
        chain.touch(session, batch_id)


@click.command("verify")
@click.option("--batch", "code", default=None, help="Verify only this batch (its trace code).")
@click.option("--all-broken", is_flag=True, help="List every broken batch, not only the first.")
def verify_cmd(code: str | None, all_broken: bool) -> None:
    """Recompute every batch's event hash chain; name the first broken link and exit 1 if any.

    Broken batches are noted, so the trace pages of them and of the batches made from them say that
    the record does not verify from then on. Run it daily with --all-broken (cron or a systemd timer):
    without it the check stops at the first broken batch, and only that one is noted.
    """
    if code:
        with session_scope() as session:
            try:
                batch = batch_by_code(session, code)
            except DomainError as exc:
                raise click.ClickException(exc.message) from exc
            result = chain.verify_batch(session, batch)
            if not result.ok:
                _mark_broken(session, [batch.id])
        if not result.ok:  # reported and exited once the command's unit of work has committed
            _report(batch.code, result)
            raise SystemExit(1)
        click.echo(f"OK: batch {batch.code} verified ({result.events} events)")
        return
    broken = []
    with session_scope() as session:
        total = chain.batch_count(session)
        with click.progressbar(length=total, label="Verifying batches", file=sys.stderr) as bar:
            for item in chain.iter_verify_all(session, on_batch=bar.update):
                broken.append(item)
                if not all_broken:
                    break
        if broken:
            codes = [item.batch_code for item in broken]
            _mark_broken(session, session.exec(select(Batch.id).where(Batch.code.in_(codes))).all())
    for item in broken:
        _report(item.batch_code, item.result)
    if broken:
        raise SystemExit(1)
    click.echo(f"OK: {total} batches verified")


def register(app: Flask) -> None:
    app.cli.add_command(verify_cmd)
