"""`flask --app gi_trace recall export --batch CODE --out FILE.xlsx|.csv`: a recall's affected batches."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from gi_trace.db import session_scope
from gi_trace.errors import DomainError
from gi_trace.oversight import recalls

recall_cli = AppGroup("recall", help="Recalls: a withdrawn batch and every batch made from it.")


@recall_cli.command("export")
@click.option("--batch", "code", required=True,
              help="Trace code of the withdrawn batch (or of a batch the recall reached).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write: .xlsx (with a sheet of unit codes) or .csv.")
def export_cmd(code: str, out: Path):
    """Write every batch a recall reaches — owner, kilograms on hand, shipped or sold to whom and when, unit
    codes issued, recall status — as a sortable spreadsheet (FSMA 204)."""
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("xlsx", "csv"):
        raise click.BadParameter("the file must end in .xlsx or .csv", param_hint="--out")
    try:
        with session_scope() as session:
            recall = recalls.recall_of_batch(session, code)
            rows = recalls.affected(session, recall)
            data = recalls.export(session, recall, kind, rows)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    out.write_bytes(data)
    click.echo(f"{len(rows)} batches -> {out}")


def register(app: Flask) -> None:
    app.cli.add_command(recall_cli)
