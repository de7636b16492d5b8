"""`flask --app gi_trace import KIND FILE`: load register data from a spreadsheet."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import gettext as _

from gi_trace.accounts.services import get_user_by_username
from gi_trace.db import session_scope
from gi_trace.errors import DomainError
from gi_trace.registry.imports import HANDLERS, KINDS, ImportResult, all_kinds, estimate_rows, import_file

# A progress bar only pays for itself on long files.
PROGRESS_FROM_ROWS = 5000


class _Kinds(click.Choice):
    """The import kinds, including those other areas added when the app started."""

    def __init__(self):
        super().__init__(KINDS)

    @property
    def choices(self):
        return all_kinds()

    @choices.setter
    def choices(self, value):
        pass


class _DryRun(Exception):
    """A dry run of an importer that writes as it checks: roll it back."""


class _Refused(Exception):
    """The file had bad rows (or unaccepted warnings): roll back and exit non-zero."""


def _report(result: ImportResult) -> None:
    click.echo(_("%(kind)s: %(rows)s rows; inserted %(inserted)s, updated %(updated)s, unchanged "
                 "%(unchanged)s.", kind=result.kind, rows=result.rows, inserted=result.inserted,
                 updated=result.updated, unchanged=result.unchanged))
    for problem in result.errors:
        click.echo(_("row %(row)s, column %(column)s: %(message)s", row=problem.row, column=problem.column,
                     message=problem.message), err=True)
    for problem in result.warnings:
        click.echo(_("warning: row %(row)s, column %(column)s: %(message)s", row=problem.row,
                     column=problem.column, message=problem.message), err=True)


@click.command("import")
@click.argument("kind", type=_Kinds())
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--accept-warnings", is_flag=True,
              help="Import rows with warnings too (a USCC whose check character fails).")
@click.option("--dry-run", is_flag=True, help="Check the file and print what would change; write nothing.")
@click.option("--as", "username", default=None,
              help="Act as this user: recorded as who imported, and a county regulator may only import "
                   "its county.")
@with_appcontext
def import_cmd(kind: str, file: Path, accept_warnings: bool, dry_run: bool, username: str | None) -> None:
    """Import KIND (producers, parties, output, sector-totals, authorisations, plots, purchases) from FILE (CSV in
    UTF-8, or XLSX).

    The first row names the columns. The file is all-or-nothing: if any row is bad, nothing is
    written, every bad row is printed (row number as in the spreadsheet, column, reason) and the
    command exits with status 1. Importing the same file again changes nothing.
    """
    try:
        estimated = estimate_rows(file)
        with session_scope() as session:
            user = get_user_by_username(session, username) if username else None
            if kind in HANDLERS:
                result = HANDLERS[kind](session, user, file, dry_run)
                _report(result)
                if not result.ok:
                    raise _Refused()
                if dry_run:
                    raise _DryRun()
            elif estimated and estimated >= PROGRESS_FROM_ROWS:
                # Twice the rows: once to check them, once to write them.
                with click.progressbar(length=2 * estimated, label=_("Importing %(file)s", file=file.name),
                                       file=sys.stderr) as bar:
                    result = import_file(session, kind, file, user=user, accept_warnings=accept_warnings,
                                         dry_run=dry_run, progress=bar.update)
            else:
                result = import_file(session, kind, file, user=user, accept_warnings=accept_warnings,
                                     dry_run=dry_run)
            _report(result)
            if not result.ok:
                raise _Refused()
    except _Refused:
        if result.errors:
            click.echo(_("Nothing was imported: %(n)s problems in the file.", n=len(result.errors)), err=True)
        else:
            click.echo(_("Nothing was imported: check the warnings and run again with --accept-warnings."),
                       err=True)
        raise click.exceptions.Exit(1) from None
    except _DryRun:
        pass
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if dry_run:
        click.echo(_("Dry run: nothing was written."))


def register(app: Flask) -> None:
    app.cli.add_command(import_cmd)
