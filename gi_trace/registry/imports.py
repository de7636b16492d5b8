"""Spreadsheet imports into the register: producers, output, sector totals, authorisation decisions.

A file is all-or-nothing. Every row is read and checked first, in plain Python against lookups
loaded once into dicts (no query per row); only a file without a single bad row is written, with
SQLAlchemy Core `insert()`/`update()` executemany in chunks inside the caller's transaction (the
caller commits). Re-importing the same file changes nothing: rows whose key already exists with the
same values are counted as unchanged.

Row numbers are the ones the user sees in the spreadsheet: the header is row 1.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Callable, Iterable, Iterator, NamedTuple, Optional, Union

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.authorisation.services import DecisionInput, check_decision
from gi_trace.errors import Conflict, DomainError, Forbidden, ValidationError
from gi_trace.registry.models import (
    OutputRecord,
    Producer,
    ProducerProduct,
    Product,
    ProductTown,
    Region,
    SectorTotal,
)
from gi_trace.registry.services import ProducerInput, check_producer_input
from gi_trace.registry.uscc import normalise as normalise_uscc
from gi_trace.types import utcnow

KINDS = ("producers", "output", "sector-totals", "authorisations")

# kind -> (required columns, optional columns), in the order of the template files.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "producers": (("uscc", "registry_no", "name", "kind", "county_code", "town_code", "products"),
                  ("address", "contact_name", "contact_phone")),
    "output": (("producer", "product", "year", "output_kg", "output_value_yuan"), ()),
    "sector-totals": (("product", "year", "county_code", "producers_total", "output_value_yuan", "source"),
                      ()),
    "authorisations": (("producer", "product", "action", "effective_date", "reference_no", "reason"),
                       ("valid_until",)),
}

# Spreadsheets kept by regulators often use the Chinese words; the ids stay English.
PRODUCER_KIND_ALIASES = {
    "企业": "enterprise", "合作社": "cooperative", "农民专业合作社": "cooperative", "家庭农场": "family_farm",
    "农户": "household", "种植户": "household", "family farm": "family_farm", "family-farm": "family_farm",
}
ACTION_ALIASES = {"申请": "apply", "批准": "approve", "驳回": "reject", "暂停": "suspend", "恢复": "reinstate",
                  "撤销": "revoke"}

# Column widths of the producer table that the register rule does not already check.
LIMITS = (("registry_no", 32), ("address", 300), ("contact_name", 100), ("contact_phone", 40))
CHUNK = 5000  # rows per executemany
PROGRESS_EVERY = 1000
# The same bounds as the register's own forms (registry.services.record_output, add_sector_total).
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_OUTPUT_KG, MAX_OUTPUT_VALUE_YUAN = 1e10, 1e13
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"

Progress = Optional[Callable[[int], None]]
Source = Union[str, Path, bytes, IO[bytes]]


# --- results ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowProblem:
    """One problem in a file: spreadsheet row number (header = 1), column and reason."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


@dataclass
class ImportResult:
    """What an import did (or, in a dry run or when refused, would do)."""

    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    accept_warnings: bool = False
    dry_run: bool = False
    written: bool = False

    @property
    def needs_confirmation(self) -> bool:
        """True when only warnings stand in the way and nobody accepted them."""
        return not self.errors and bool(self.warnings) and not self.accept_warnings

    @property
    def ok(self) -> bool:
        """True when the file may be (or was) written."""
        return not self.errors and not self.needs_confirmation


class ImportFileError(ValidationError):
    """The file itself cannot be read (wrong type, not UTF-8, broken XLSX)."""


# --- reading CSV and XLSX -----------------------------------------------------------------

class Table:
    """The header and the data rows of a CSV or XLSX file, as stripped strings."""

    def __init__(self, fmt: str, header: list[str], rows: Iterator[tuple[int, list[str]]],
                 estimated_rows: Optional[int], closer: Callable[[], None] = lambda: None):
        self.format = fmt
        self.header = header
        self._rows = rows
        self.estimated_rows = estimated_rows
        self._closer = closer

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cell values) for every non-empty data row."""
        return self._rows

    def close(self) -> None:
        self._closer()

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def detect_format(head: bytes, filename: Optional[str] = None) -> str:
    """'csv' or 'xlsx' from the file's first bytes, checked against its name when there is one."""
    suffix = Path(filename).suffix.lower() if filename else ""
    if head.startswith(_XLS_MAGIC) or suffix == ".xls":
        raise ImportFileError(_("Old Excel .xls files cannot be read; save the sheet as .xlsx or CSV "
                                "(UTF-8)."), field="file")
    fmt = "xlsx" if head.startswith(_XLSX_MAGIC) else "csv"
    if suffix and suffix not in (".csv", ".xlsx", ".txt"):
        raise ImportFileError(_("Only CSV and XLSX files can be imported."), field="file")
    if suffix == ".xlsx" and fmt != "xlsx":
        raise ImportFileError(_("This file is named .xlsx but is not an Excel workbook."), field="file")
    if suffix in (".csv", ".txt") and fmt != "csv":
        raise ImportFileError(_("This file is named .csv but is an Excel workbook; name it .xlsx."),
                              field="file")
    if fmt == "csv" and b"\x00" in head:
        raise ImportFileError(_("This is not a text file; save the sheet as CSV (UTF-8) or XLSX."),
                              field="file")
    return fmt


def _binary(source: Source) -> tuple[IO[bytes], bool]:
    """A binary stream for the source and whether we opened it (and must close it)."""
    if isinstance(source, (str, Path)):
        return open(source, "rb"), True
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), True
    return source, False


def read_table(source: Source, filename: Optional[str] = None) -> Table:
    """Open a CSV (UTF-8, with or without BOM) or XLSX file; raises ImportFileError when unreadable."""
    if filename is None and isinstance(source, (str, Path)):
        filename = str(source)
    stream, owned = _binary(source)
    try:
        head = stream.read(4096)
        stream.seek(0)
        fmt = detect_format(head, filename)
        table = _read_xlsx(stream) if fmt == "xlsx" else _read_csv(stream)
    except BaseException:
        if owned:
            stream.close()
        raise
    if owned:
        inner = table._closer

        def closer() -> None:
            inner()
            stream.close()

        table._closer = closer
    return table


def _read_csv(stream: IO[bytes]) -> Table:
    # Decoding the whole file at once is fast (tens of ms for 25 MB) and lets an encoding error name
    # its line, which a buffered text stream cannot.
    data = stream.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if line <= 1:
            raise ImportFileError(_("The file is not UTF-8 text; save it as “CSV UTF-8” or as XLSX."),
                                  field="file") from None
        raise ImportFileError(_("Row %(row)s is not UTF-8 text; save the file as “CSV UTF-8” or as XLSX.",
                                row=line), field="file") from None
    del data
    estimated = max(text.count("\n") - 1, 0)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(_("The file cannot be read as CSV: %(reason)s", reason=str(exc)),
                              field="file") from None
    if header is None:
        raise ImportFileError(_("The file is empty."), field="file")

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for values in reader:
                number += 1
                if any(values) and any(v.strip() for v in values):
                    yield number, values
        except csv.Error as exc:
            raise ImportFileError(_("Row %(row)s cannot be read as CSV: %(reason)s", row=number + 1,
                                    reason=str(exc)), field="file") from None

    return Table("csv", header, rows(), estimated)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # codes and years typed as numbers come back as floats
    return str(value)


def _read_xlsx(stream: IO[bytes]) -> Table:
    import openpyxl

    workbook = None
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        iterator = sheet.iter_rows(values_only=True) if sheet is not None else iter(())
        first = next(iterator, None)
    except Exception:  # noqa: BLE001 - whatever breaks inside a user's workbook is a problem with the file
        if workbook is not None:
            workbook.close()
        raise ImportFileError(_("The Excel file cannot be read; open it in Excel and save it again as "
                                ".xlsx."), field="file") from None
    if first is None:
        workbook.close()
        raise ImportFileError(_("The file is empty."), field="file")
    header = [_cell_text(v) for v in first]
    estimated = (sheet.max_row - 1) if sheet.max_row else None

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for number, values in enumerate(iterator, start=2):
                texts = [_cell_text(v) for v in values]
                if any(t.strip() for t in texts):
                    yield number, texts
        except Exception:  # noqa: BLE001 - see above
            raise ImportFileError(_("Row %(row)s of the Excel file cannot be read; open it in Excel and "
                                    "save it again as .xlsx.", row=number + 1), field="file") from None

    return Table("xlsx", header, rows(), estimated, closer=workbook.close)


def template_header(kind: str) -> list[str]:
    """The columns of a kind's template file: required first, then optional."""
    required, optional = COLUMNS[kind]
    return list(required + optional)


def template_csv(kind: str) -> bytes:
    """A CSV template (header row, UTF-8 with BOM so Excel opens it as UTF-8)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(template_header(kind))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx(kind: str) -> bytes:
    """An XLSX template with the header row."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = kind
    sheet.append(template_header(kind))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- parsing cells ------------------------------------------------------------------------

class _Bad(Exception):
    """A cell that cannot be parsed; carries the column and the message."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


def _number(text: str, column: str, *, required: bool = True) -> Optional[float]:
    text = text.replace(",", "").replace(" ", "")
    if not text:
        if required:
            raise _Bad(column, _("A number is required."))
        return None
    try:
        value = float(text)
    except ValueError:
        raise _Bad(column, _("“%(value)s” is not a number.", value=text)) from None
    if not math.isfinite(value) or value < 0:
        raise _Bad(column, _("The number must be zero or more."))
    return value


def _integer(text: str, column: str, *, required: bool = True) -> Optional[int]:
    value = _number(text, column, required=required)
    if value is None:
        return None
    if not value.is_integer():
        raise _Bad(column, _("“%(value)s” is not a whole number.", value=text))
    return int(value)


def _year(text: str, column: str = "year") -> int:
    try:
        year = int(text)
    except ValueError:
        try:
            year = _integer(text, column)
        except _Bad:
            raise _Bad(column, _("“%(value)s” is not a year.", value=text)) from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _Bad(column, _("The year must be between %(first)s and %(last)s.", first=MIN_YEAR, last=MAX_YEAR))
    return year


def _iso_date(text: str, column: str, *, required: bool = True) -> Optional[date]:
    if not text:
        if required:
            raise _Bad(column, _("A date is required (YYYY-MM-DD)."))
        return None
    if not _ISO_DATE.match(text):
        raise _Bad(column, _("“%(value)s” is not a date in the form YYYY-MM-DD.", value=text))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad(column, _("“%(value)s” is not a real date.", value=text)) from None


def _text(text: str, column: str, limit: int) -> str:
    if len(text) > limit:
        raise _Bad(column, _("Longer than %(n)s characters.", n=limit))
    return text


# --- the importers ------------------------------------------------------------------------

class _Importer:
    """Checks rows one by one (collecting every problem), then writes them in bulk."""

    kind = ""

    def __init__(self, session: Session, user, result: ImportResult, present: set[str]):
        self.session = session
        self.user = user
        self.result = result
        self.present = present  # columns found in the header
        is_regulator = getattr(user, "role", None) == "regulator"
        self.county_limit = getattr(user, "county_code", None) if is_regulator else None
        self.now = utcnow()

    # Helpers
    def error(self, row: int, column: str, message: str) -> None:
        self.result.errors.append(RowProblem(row, column, message))

    def outside_county(self, county_code: Optional[str]) -> bool:
        return self.county_limit is not None and county_code != self.county_limit

    def county_error(self, row: int, column: str) -> None:
        self.error(row, column, _("This row is outside your county (%(county)s).", county=self.county_limit))

    def products(self) -> dict[str, int]:
        return dict(self.session.execute(select(Product.slug, Product.id)).all())

    def producer_codes(self) -> dict[str, tuple]:
        """USCC and registry number -> (id, county code, town code), from one query."""
        table = Producer.__table__
        codes: dict[str, tuple] = {}
        query = select(table.c.id, table.c.uscc, table.c.registry_no, table.c.county_code, table.c.town_code)
        for pid, uscc, registry_no, county, town in self.session.execute(query):
            value = (pid, county, town)
            if registry_no:
                codes[registry_no] = value
            if uscc:
                codes[uscc] = value
        return codes

    def find_producer(self, codes: dict[str, tuple], text: str) -> Optional[tuple]:
        return codes.get(text) or codes.get(text.upper())

    # To be provided by each kind
    def check(self, row: int, cells: dict[str, str]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """After all rows: classify into inserts, updates and unchanged rows."""

    def write(self, progress: Progress) -> None:
        raise NotImplementedError

    # Shared bulk operations
    def _conn(self):
        return self.session.connection()

    def bulk_insert(self, table, rows: list[dict], progress: Progress = None) -> None:
        conn = self._conn()
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            conn.execute(insert(table), chunk)
            if progress:
                progress(len(chunk))

    def bulk_update(self, table, columns: Iterable[str], rows: list[dict], progress: Progress = None) -> None:
        """UPDATE table SET columns WHERE id = :b_id, executemany (rows carry 'b_id' and 'b_<column>')."""
        columns = list(columns)
        statement = (update(table).where(table.c.id == bindparam("b_id"))
                     .values({c: bindparam("b_" + c) for c in columns}))
        conn = self._conn()
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            conn.execute(statement, chunk)
            if progress:
                progress(len(chunk))


class _RegionRow(NamedTuple):
    code: str
    level: str
    parent_code: Optional[str]


class _ProducerImporter(_Importer):
    kind = "producers"
    FIELDS = ("uscc", "registry_no", "name", "kind", "county_code", "town_code", "address", "contact_name",
              "contact_phone")

    def __init__(self, *args):
        super().__init__(*args)
        # Plain tuples, not ORM objects: the rule reads .level and .parent_code on every row.
        self.regions = {r.code: _RegionRow(r.code, r.level, r.parent_code) for r in self.session.execute(
            select(Region.code, Region.level, Region.parent_code))}
        self.product_ids = self.products()
        table = Producer.__table__
        self.by_uscc: dict[str, dict] = {}
        self.by_registry_no: dict[str, dict] = {}
        for row in self.session.execute(select(table.c.id, table.c.uscc_check_ok,
                                               *[table.c[f] for f in self.FIELDS])).mappings():
            row = dict(row)
            if row["uscc"]:
                self.by_uscc[row["uscc"]] = row
            if row["registry_no"]:
                self.by_registry_no[row["registry_no"]] = row
        self.links: set[tuple[int, int]] = set(self.session.execute(
            select(ProducerProduct.producer_id, ProducerProduct.product_id)).all())
        self.seen_uscc: dict[str, int] = {}
        self.seen_registry_no: dict[str, int] = {}
        self.new: list[dict] = []
        self.new_products: list[list[int]] = []
        self.changed: list[dict] = []
        self.new_links: list[dict] = []

    def check(self, row: int, cells: dict[str, str]) -> None:
        errors_before = len(self.result.errors)
        kind = cells["kind"]
        kind = PRODUCER_KIND_ALIASES.get(kind, PRODUCER_KIND_ALIASES.get(kind.lower(), kind.lower()))
        parts = cells["products"].replace("；", ";").split(";")
        slugs = list(dict.fromkeys(s.strip() for s in parts if s.strip()))
        data = ProducerInput(
            name=cells["name"], kind=kind, county_code=cells["county_code"], town_code=cells["town_code"],
            uscc=normalise_uscc(cells["uscc"]), registry_no=cells["registry_no"],
            address=cells.get("address", ""), contact_name=cells.get("contact_name", ""),
            contact_phone=cells.get("contact_phone", ""), products=slugs,
        )
        warnings = []
        for problem in check_producer_input(data, self.regions, self.product_ids):
            if problem.warning:
                warnings.append(problem)
            else:
                self.error(row, problem.field, problem.message)
        for column, limit in LIMITS:
            value = getattr(data, column)
            if len(value) > limit:
                self.error(row, column, _("Longer than %(n)s characters.", n=limit))
        if self.outside_county(data.county_code):
            self.county_error(row, "county_code")
        uscc, registry_no = data.uscc, data.registry_no
        # The same producer twice in one file is a mistake the user should see.
        if uscc:
            if uscc in self.seen_uscc:
                self.error(row, "uscc", _("The same credit code is already in row %(row)s.",
                                          row=self.seen_uscc[uscc]))
            else:
                self.seen_uscc[uscc] = row
        if registry_no:
            if registry_no in self.seen_registry_no:
                self.error(row, "registry_no", _("The same registry number is already in row %(row)s.",
                                                 row=self.seen_registry_no[registry_no]))
            else:
                self.seen_registry_no[registry_no] = row
        by_uscc = self.by_uscc.get(uscc) if uscc else None
        by_number = self.by_registry_no.get(registry_no) if registry_no else None
        existing = by_uscc or by_number
        if by_uscc is not None and by_number is not None and by_uscc["id"] != by_number["id"]:
            self.error(row, "registry_no", _("This registry number belongs to another producer (%(code)s).",
                                             code=by_number["uscc"] or by_number["registry_no"]))
        elif by_uscc is None and by_number is not None and uscc and by_number["uscc"]:
            self.error(row, "uscc", _("Registry number %(number)s belongs to the producer with credit code "
                                      "%(code)s.", number=registry_no, code=by_number["uscc"]))
        if existing is not None and self.outside_county(existing["county_code"]):
            self.county_error(row, "county_code")
        if len(self.result.errors) > errors_before:
            return
        # A failed check character warns only when the code is new to the register: once accepted, it stays.
        if existing is None or existing["uscc"] != uscc:
            for problem in warnings:
                self.result.warnings.append(RowProblem(row, problem.field, problem.message))
        values = {
            "uscc": uscc or None, "registry_no": registry_no or None, "name": data.name.strip(), "kind": kind,
            "county_code": data.county_code, "town_code": data.town_code,
            "uscc_check_ok": not warnings if (existing is None or existing["uscc"] != uscc) else
            existing["uscc_check_ok"],
        }
        for column in ("address", "contact_name", "contact_phone"):
            if column in self.present:
                values[column] = getattr(data, column)
        product_ids = [self.product_ids[s] for s in slugs]
        if existing is None:
            self.new.append(values)
            self.new_products.append(product_ids)
            return
        if values["registry_no"] is None:
            values["registry_no"] = existing["registry_no"]  # a code only adds; the import never erases one
        if values["uscc"] is None:
            values["uscc"] = existing["uscc"]
        changes = {k: v for k, v in values.items() if existing.get(k) != v}
        links = [pid for pid in product_ids if (existing["id"], pid) not in self.links]
        for pid in links:
            self.links.add((existing["id"], pid))
            self.new_links.append({"producer_id": existing["id"], "product_id": pid})
        if changes:
            merged = {k: existing[k] for k in (*self.FIELDS, "uscc_check_ok")}
            merged.update(values)
            if "uscc" in changes and not merged["uscc_check_ok"]:
                merged["uscc_warning_accepted_by"] = getattr(self.user, "id", None)
            self.changed.append(merged | {"b_id": existing["id"]})
        if changes or links:
            self.result.updated += 1
        else:
            self.result.unchanged += 1

    def finish(self) -> None:
        self.result.inserted = len(self.new)

    def write(self, progress: Progress) -> None:
        table = Producer.__table__
        user_id = getattr(self.user, "id", None)
        rows = []
        for values in self.new:
            rows.append({
                "uscc": values["uscc"], "registry_no": values["registry_no"],
                "uscc_check_ok": values["uscc_check_ok"],
                "uscc_warning_accepted_by": None if values["uscc_check_ok"] else user_id,
                "name": values["name"], "kind": values["kind"], "county_code": values["county_code"],
                "town_code": values["town_code"], "address": values.get("address", ""),
                "contact_name": values.get("contact_name", ""),
                "contact_phone": values.get("contact_phone", ""),
                "created_at": self.now, "created_by": user_id,
            })
        before = self.session.execute(select(func.max(table.c.id))).scalar() or 0
        self.bulk_insert(table, rows, progress)
        if rows:
            # Map the new rows' ids by their codes: one query instead of one RETURNING per row.
            ids: dict[str, int] = {}
            for pid, uscc, registry_no in self.session.execute(
                    select(table.c.id, table.c.uscc, table.c.registry_no).where(table.c.id > before)):
                ids[uscc or registry_no] = pid
            for values, product_ids in zip(self.new, self.new_products):
                pid = ids[values["uscc"] or values["registry_no"]]
                self.new_links.extend({"producer_id": pid, "product_id": p} for p in product_ids)
        if self.changed:
            columns = (*self.FIELDS, "uscc_check_ok")
            update_rows = [{"b_id": r["b_id"], **{"b_" + c: r[c] for c in columns}} for r in self.changed]
            self.bulk_update(table, columns, update_rows)
            accepted = [{"b_id": r["b_id"], "b_uscc_warning_accepted_by": r["uscc_warning_accepted_by"]}
                        for r in self.changed if "uscc_warning_accepted_by" in r]
            if accepted:
                self.bulk_update(table, ["uscc_warning_accepted_by"], accepted)
        self.bulk_insert(ProducerProduct.__table__, self.new_links)


class _OutputImporter(_Importer):
    kind = "output"

    def __init__(self, *args):
        super().__init__(*args)
        self.codes = self.producer_codes()
        self.product_ids = self.products()
        self.product_names = dict(self.session.execute(select(Product.id, Product.name_zh)).all())
        # Output is recorded only for a product the producer is registered for (as in record_output).
        self.links: set[tuple[int, int]] = set(self.session.execute(
            select(ProducerProduct.producer_id, ProducerProduct.product_id)).all())
        self.seen: dict[tuple, int] = {}
        self.rows: list[tuple] = []  # (producer_id, product_id, year, kg, value)

    def check(self, row: int, cells: dict[str, str]) -> None:
        bad = False
        producer = self.find_producer(self.codes, cells["producer"])
        if producer is None:
            self.error(row, "producer", _("No producer with code %(code)s.", code=cells["producer"]))
            bad = True
        elif self.outside_county(producer[1]):
            self.county_error(row, "producer")
            bad = True
        product_id = self.product_ids.get(cells["product"])
        if product_id is None:
            self.error(row, "product", _("Unknown product %(slug)s.", slug=cells["product"]))
            bad = True
        year = kg = value = None
        for column in ("year", "output_kg", "output_value_yuan"):
            try:
                if column == "year":
                    year = _year(cells["year"])
                elif column == "output_kg":
                    kg = _number(cells["output_kg"], column)
                    if kg >= MAX_OUTPUT_KG:
                        raise _Bad(column, _("The output must be zero or a positive number of kilograms."))
                else:
                    value = _number(cells["output_value_yuan"], column)
                    if value >= MAX_OUTPUT_VALUE_YUAN:
                        raise _Bad(column, _("The output value must be zero or a positive number of yuan."))
            except _Bad as exc:
                self.error(row, exc.column, exc.message)
                bad = True
        if bad:
            return
        if (producer[0], product_id) not in self.links:
            self.error(row, "product", _("The producer is not registered for %(product)s.",
                                         product=self.product_names[product_id]))
            return
        key = (producer[0], product_id, year)
        first = self.seen.get(key)
        if first is not None:
            self.error(row, "producer", _("Row %(row)s already gives this producer's output of this product "
                                          "in %(year)s.", row=first, year=year))
            return
        self.seen[key] = row
        self.rows.append((producer[0], product_id, year, kg, value))

    def finish(self) -> None:
        table = OutputRecord.__table__
        years = {r[2] for r in self.rows}
        existing: dict[tuple, tuple] = {}
        if years:
            query = (select(table.c.producer_id, table.c.product_id, table.c.year, table.c.id,
                            table.c.output_kg, table.c.output_value_yuan)
                     .where(table.c.year.in_(sorted(years))))
            for pid, product_id, year, rid, kg, value in self.session.execute(query):
                existing[(pid, product_id, year)] = (rid, kg, value)
        self.inserts: list[dict] = []
        self.updates: list[dict] = []
        for pid, product_id, year, kg, value in self.rows:
            old = existing.get((pid, product_id, year))
            if old is None:
                self.inserts.append({"producer_id": pid, "product_id": product_id, "year": year,
                                     "output_kg": kg, "output_value_yuan": value})
            elif old[1] != kg or old[2] != value:
                self.updates.append({"b_id": old[0], "b_output_kg": kg, "b_output_value_yuan": value})
            else:
                self.result.unchanged += 1
        self.result.inserted = len(self.inserts)
        self.result.updated = len(self.updates)

    def write(self, progress: Progress) -> None:
        table = OutputRecord.__table__
        self.bulk_insert(table, self.inserts, progress)
        self.bulk_update(table, ["output_kg", "output_value_yuan"], self.updates, progress)


class _SectorTotalImporter(_Importer):
    kind = "sector-totals"

    def __init__(self, *args):
        super().__init__(*args)
        self.product_ids = self.products()
        self.counties = set(self.session.execute(
            select(Region.code).where(Region.level == "county")).scalars())
        self.seen: dict[tuple, int] = {}
        self.rows: list[dict] = []

    def check(self, row: int, cells: dict[str, str]) -> None:
        bad = False
        product_id = self.product_ids.get(cells["product"])
        if product_id is None:
            self.error(row, "product", _("Unknown product %(slug)s.", slug=cells["product"]))
            bad = True
        county = cells["county_code"] or None
        if county is not None and county not in self.counties:
            self.error(row, "county_code", _("Unknown county code %(code)s.", code=county))
            bad = True
        elif self.outside_county(county):
            self.county_error(row, "county_code")
            bad = True
        year = producers = value = None
        source = ""
        try:
            year = _year(cells["year"])
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        try:
            producers = _integer(cells["producers_total"], "producers_total", required=False)
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        try:
            value = _number(cells["output_value_yuan"], "output_value_yuan", required=False)
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        try:
            source = _text(cells["source"], "source", 300)
            if not source:
                raise _Bad("source", _("Name the source of the figures."))
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        if not bad and producers is None and value is None:
            self.error(row, "producers_total", _("Give the number of producers, the output value, or both."))
            bad = True
        if bad:
            return
        key = (product_id, year, county)
        if key in self.seen:
            self.error(row, "county_code", _("Row %(row)s already gives this product's totals for this year "
                                             "and county.", row=self.seen[key]))
            return
        self.seen[key] = row
        self.rows.append({"product_id": product_id, "year": year, "county_code": county,
                          "producers_total": producers, "output_value_yuan": value, "source": source})

    def finish(self) -> None:
        table = SectorTotal.__table__
        existing = {(r.product_id, r.year, r.county_code): r for r in self.session.execute(
            select(table.c.id, table.c.product_id, table.c.year, table.c.county_code, table.c.producers_total,
                   table.c.output_value_yuan, table.c.source))}
        self.inserts: list[dict] = []
        self.updates: list[dict] = []
        for values in self.rows:
            old = existing.get((values["product_id"], values["year"], values["county_code"]))
            if old is None:
                self.inserts.append(values)
            elif (old.producers_total, old.output_value_yuan, old.source) != (
                    values["producers_total"], values["output_value_yuan"], values["source"]):
                self.updates.append({"b_id": old.id, "b_producers_total": values["producers_total"],
                                     "b_output_value_yuan": values["output_value_yuan"],
                                     "b_source": values["source"]})
            else:
                self.result.unchanged += 1
        self.result.inserted = len(self.inserts)
        self.result.updated = len(self.updates)

    def write(self, progress: Progress) -> None:
        table = SectorTotal.__table__
        self.bulk_insert(table, self.inserts, progress)
        self.bulk_update(table, ["producers_total", "output_value_yuan", "source"], self.updates, progress)


@dataclass
class _PendingDecision:
    """A decision from the file, checked against the history as if already recorded."""

    id: int
    action: str
    effective_date: date
    valid_until: Optional[date]
    reference_no: str
    reason: str


class _DecisionImporter(_Importer):
    kind = "authorisations"

    def __init__(self, *args):
        super().__init__(*args)
        self.codes = self.producer_codes()
        self.products_by_slug = {p.slug: p for p in self.session.execute(select(Product)).scalars()}
        self.towns: dict[int, set[str]] = {}
        for product_id, town in self.session.execute(select(ProductTown.product_id, ProductTown.town_code)):
            self.towns.setdefault(product_id, set()).add(town)
        table = AuthorisationDecision.__table__
        self.history: dict[tuple[int, int], list] = {}
        self.identical: set[tuple] = set()
        max_id = 0
        for d in self.session.execute(select(
                table.c.id, table.c.producer_id, table.c.product_id, table.c.action, table.c.effective_date,
                table.c.valid_until, table.c.reference_no, table.c.reason).order_by(table.c.id)):
            self.history.setdefault((d.producer_id, d.product_id), []).append(
                _PendingDecision(d.id, d.action, d.effective_date, d.valid_until, d.reference_no, d.reason))
            self.identical.add((d.producer_id, d.product_id, d.action, d.effective_date, d.valid_until,
                                d.reference_no, d.reason))
            max_id = max(max_id, d.id)
        # New decisions sort after the recorded ones on the same day (rules.sort_key uses the id).
        self.next_id = max_id + 1
        # Without a user (the CLI without --as) the import acts with the authority of an administrator.
        self.actor = self.user if self.user is not None else SimpleNamespace(
            id=None, role="admin", county_code=None, producer_id=None)
        self.seen: dict[tuple, int] = {}
        self.inserts: list[dict] = []

    def check(self, row: int, cells: dict[str, str]) -> None:
        bad = False
        found = self.find_producer(self.codes, cells["producer"])
        if found is None:
            self.error(row, "producer", _("No producer with code %(code)s.", code=cells["producer"]))
            bad = True
        product = self.products_by_slug.get(cells["product"])
        if product is None:
            self.error(row, "product", _("Unknown product %(slug)s.", slug=cells["product"]))
            bad = True
        action = ACTION_ALIASES.get(cells["action"], cells["action"].lower())
        if action not in rules.ACTIONS:
            self.error(row, "action", _("Unknown action %(action)s; use one of: %(actions)s.",
                                        action=cells["action"], actions=", ".join(rules.ACTIONS)))
            bad = True
        effective = valid_until = None
        reference_no = reason = ""
        for column in ("effective_date", "valid_until", "reference_no", "reason"):
            try:
                if column == "effective_date":
                    effective = _iso_date(cells["effective_date"], column)
                elif column == "valid_until":
                    valid_until = _iso_date(cells.get("valid_until", ""), column, required=False)
                elif column == "reference_no":
                    reference_no = _text(cells["reference_no"], column, 64)
                else:
                    reason = _text(cells["reason"], column, 1000)
            except _Bad as exc:
                self.error(row, exc.column, exc.message)
                bad = True
        if bad:
            return
        producer_id, county, town = found
        if self.outside_county(county):
            self.county_error(row, "producer")
            return
        key = (producer_id, product.id, action, effective, valid_until, reference_no, reason)
        if key in self.identical:
            self.result.unchanged += 1  # already recorded: importing the file again changes nothing
            return
        if key in self.seen:
            self.error(row, "action", _("The same decision is already in row %(row)s.", row=self.seen[key]))
            return
        self.seen[key] = row
        producer = SimpleNamespace(id=producer_id, county_code=county, town_code=town)
        existing = self.history.setdefault((producer_id, product.id), [])
        data = DecisionInput(action=action, effective_date=effective, reference_no=reference_no,
                             valid_until=valid_until, reason=reason)
        try:
            check_decision(self.actor, producer, product, self.towns.get(product.id, set()), existing, data)
        except DomainError as exc:
            column = exc.field if exc.field in COLUMNS["authorisations"][0] + ("valid_until",) else "action"
            self.error(row, column, exc.message)
            return
        existing.append(_PendingDecision(self.next_id, action, effective, valid_until, reference_no, reason))
        self.next_id += 1
        self.inserts.append({
            "producer_id": producer_id, "product_id": product.id, "action": action,
            "effective_date": effective,
            "reference_no": reference_no, "valid_until": valid_until, "reason": reason,
            "decided_by": getattr(self.user, "id", None), "recorded_at": self.now, "source": "import",
            "inspection_id": None,
        })

    def finish(self) -> None:
        self.result.inserted = len(self.inserts)

    def write(self, progress: Progress) -> None:
        self.bulk_insert(AuthorisationDecision.__table__, self.inserts, progress)


_IMPORTERS: dict[str, type[_Importer]] = {
    "producers": _ProducerImporter,
    "output": _OutputImporter,
    "sector-totals": _SectorTotalImporter,
    "authorisations": _DecisionImporter,
}


# --- entry points -------------------------------------------------------------------------

def import_rows(session: Session, kind: str, header: list[str], rows: Iterable[tuple[int, list[str]]], *,
                user=None, accept_warnings: bool = False, dry_run: bool = False,
                progress: Progress = None) -> ImportResult:
    """Check every row, then write all of them or none; the caller commits."""
    if kind not in _IMPORTERS:
        raise ValidationError(_("Unknown import kind %(kind)s; use one of: %(kinds)s.", kind=kind,
                                kinds=", ".join(KINDS)), field="kind")
    if user is not None and user.role not in ("admin", "regulator"):
        raise Forbidden(_("Only regulators can import register data."))
    result = ImportResult(kind=kind, accept_warnings=accept_warnings, dry_run=dry_run)
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
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
    importer = _IMPORTERS[kind](session, user, result, set(wanted))
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
    if kind not in _IMPORTERS:
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
