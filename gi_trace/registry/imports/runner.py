"""Running an import: map the header, check every row, then write all of them or none."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Union

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from gi_trace.errors import Conflict, Forbidden, ValidationError
from gi_trace.registry.imports.base import Progress
from gi_trace.registry.imports.headings import _PRODUCTS_ALIAS, HEADER_ALIASES
from gi_trace.registry.imports.kinds import COLUMNS, IMPORTERS, KINDS
from gi_trace.registry.imports.results import ImportFileError, ImportResult, RowProblem
from gi_trace.registry.imports.tables import _XLSX_MAGIC, Source, read_table

PROGRESS_EVERY = 1000


def import_rows(session: Session, kind: str, header: list[str], rows: Iterable[tuple[int, list[str]]], *,
                user=None, accept_warnings: bool = False, dry_run: bool = False,
                progress: Progress = None) -> ImportResult:
    """Check every row, then write all of them or none; the caller commits."""
    if kind not in IMPORTERS:
        raise ValidationError(_("Unknown import kind %(kind)s; use one of: %(kinds)s.", kind=kind,
                                kinds=", ".join(KINDS)), field="kind")
    if user is not None and user.role not in ("admin", "regulator"):
        raise Forbidden(_("Only regulators can import register data."))
    result = ImportResult(kind=kind, accept_warnings=accept_warnings, dry_run=dry_run)
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    names = [(_PRODUCTS_ALIAS.get(n) if kind == "producers" and n in _PRODUCTS_ALIAS else HEADER_ALIASES.get(n, n))
             for n in names]
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name, position)
    required, optional = COLUMNS[kind]
    missing = [c for c in required if c not in index]
    if missing:
        for column in missing:
            message = _("Required column “%(column)s” is missing from the header row.", column=column)
            result.errors.append(RowProblem(1, column, message))
        return result
    wanted = [c for c in required + optional if c in index]
    positions = [index[c] for c in wanted]
    session.flush()
    importer = IMPORTERS[kind](session, user, result, set(wanted))
    done = 0
    for number, values in rows:
        size = len(values)
        cells = {c: (values[p].strip() if p < size and values[p] is not None else "")
                 for c, p in zip(wanted, positions)}
        result.rows += 1
        importer.check(number, cells)
        done += 1
        if progress and done == PROGRESS_EVERY:
            progress(done)
            done = 0
    if progress and done:
        progress(done)
    if result.errors:
        result.inserted = result.updated = result.unchanged = 0
        return result
    importer.finish()
    if result.needs_confirmation or dry_run:
        return result
    try:
        importer.write(progress)
    except IntegrityError:
        # Someone else wrote the same keys since the rows were checked (two imports at once).
        raise Conflict(_("The register changed while the file was being imported; nothing was imported. "
                         "Import the file again.")) from None
    result.written = True
    # Core statements bypass the identity map: make the session read the new state.
    session.expire_all()
    return result


def import_file(session: Session, kind: str, source: Source, *, filename: Optional[str] = None, user=None,
                accept_warnings: bool = False, dry_run: bool = False,
                progress: Progress = None) -> ImportResult:
    """Import a CSV or XLSX file of `kind` (the CLI, the upload page and the benchmark all call this)."""
    if kind not in IMPORTERS:
        raise ValidationError(_("Unknown import kind %(kind)s; use one of: %(kinds)s.", kind=kind,
                                kinds=", ".join(KINDS)), field="kind")
    with read_table(source, filename) as table:
        return import_rows(session, kind, table.header, table.rows(), user=user,
                           accept_warnings=accept_warnings, dry_run=dry_run, progress=progress)


def estimate_rows(path: Union[str, Path]) -> Optional[int]:
    """Roughly how many data rows a file has (for a progress bar); None when unknown or unreadable."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != _XLSX_MAGIC:
                fh.seek(0)
                lines = 0
                while block := fh.read(1 << 20):
                    lines += block.count(b"\n")
                return max(lines - 1, 0)
        with read_table(path) as table:
            return table.estimated_rows
    except (OSError, ImportFileError):
        return None
