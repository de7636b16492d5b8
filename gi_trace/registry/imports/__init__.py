"""Spreadsheet imports into the register: producers, output, sector totals (and, added by the
authorisation area, authorisation decisions).

A file is all-or-nothing. Every row is read and checked first, in plain Python against lookups
loaded once into dicts (no query per row); only a file without a single bad row is written, with
SQLAlchemy Core `insert()`/`update()` executemany in chunks inside the caller's transaction (the
caller commits). Re-importing the same file changes nothing: rows whose key already exists with the
same values are counted as unchanged.

Row numbers are the ones the user sees in the spreadsheet: the header is row 1. The modules: reading
files (`tables`), parsing cells (`cells`), results (`results`), what importers share (`base`), one
importer per kind (`producers`, `output`, `sector_totals`), the kinds (`kinds`) and running an
import (`runner`).
"""
from gi_trace.registry.imports.kinds import COLUMNS, HANDLERS, KINDS, all_kinds, register_handler, register_kind
from gi_trace.registry.imports.results import ImportFileError, ImportResult, RowProblem
from gi_trace.registry.imports.runner import estimate_rows, import_file, import_rows
from gi_trace.registry.imports.tables import (
    Table,
    allowed_values,
    detect_format,
    read_table,
    template_csv,
    template_header,
    template_xlsx,
)

__all__ = [
    "COLUMNS", "HANDLERS", "KINDS", "all_kinds", "register_handler", "ImportFileError", "allowed_values",
    "ImportResult", "RowProblem", "Table", "detect_format",
    "estimate_rows", "import_file", "import_rows", "read_table", "register_kind", "template_csv",
    "template_header", "template_xlsx",
]
