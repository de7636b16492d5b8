"""Reading CSV and XLSX files into a header and rows of stripped strings; empty template files."""
from __future__ import annotations

import csv
import itertools
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Callable, Iterator, Optional, Union

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import select

from gi_trace import spreadsheets
from gi_trace.registry.imports.kinds import COLUMNS
from gi_trace.registry.imports.producers import PRODUCER_KIND_ALIASES
from gi_trace.registry.imports.results import ImportFileError
from gi_trace.registry.models import Product, Region

_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"

Source = Union[str, Path, bytes, IO[bytes]]


@dataclass(frozen=True)
class FileLimits:
    """What a file to import may hold, checked before it is parsed (a zip or CSV bomb is refused in
    seconds, before anything is written). App config keys IMPORT_<NAME> override each value."""

    file_bytes: int = 256 * 1024 * 1024          # CSV or XLSX as stored (the upload page has its own, smaller, limit)
    xlsx_uncompressed_bytes: int = 128 * 1024 * 1024  # every member of the workbook, unpacked
    xlsx_members: int = 200                      # files inside the workbook
    xlsx_ratio: int = 200                        # unpacked ÷ packed size of one member above 1 MB
    xlsx_shared_strings: int = 2_000_000         # distinct texts in the workbook
    rows: int = 2_000_000
    columns: int = 200
    field_chars: int = 10_000                    # characters in one cell

    @classmethod
    def from_config(cls) -> "FileLimits":
        if not has_app_context():
            return cls()
        config = current_app.config
        return cls(**{name: int(config.get("IMPORT_" + name.upper(), default))
                      for name, default in cls().__dict__.items()})


_SHARED_STRINGS = "xl/sharedStrings.xml"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f}"


def check_xlsx_container(stream: IO[bytes], limits: FileLimits) -> None:
    """Refuse a workbook whose zip directory or shared strings exceed the limits (reads no sheet).

    The sizes come from the zip directory; Python's zipfile never unpacks more than a member's
    declared size (a member that lies fails its CRC check), so counting the shared strings as they
    are unpacked, and stopping at the limit, is bounded too.
    """
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(_("The Excel file cannot be read; open it in Excel and save it again as .xlsx."),
                              field="file") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.xlsx_members:
            raise ImportFileError(_("The Excel file holds %(n)s parts, more than the %(max)s a spreadsheet needs; "
                                    "save the sheet again as .xlsx or CSV.", n=len(members),
                                    max=limits.xlsx_members), field="file")
        total = sum(m.file_size for m in members)
        if total > limits.xlsx_uncompressed_bytes:
            raise ImportFileError(_("The Excel file unpacks to %(mb)s MB, more than the %(max)s MB allowed; split "
                                    "it or save it as CSV.", mb=_mb(total), max=_mb(limits.xlsx_uncompressed_bytes)),
                                  field="file")
        for m in members:
            if m.file_size > 1024 * 1024 and m.file_size > limits.xlsx_ratio * max(m.compress_size, 1):
                raise ImportFileError(_("The Excel file is packed %(ratio)s times smaller than its content, as "
                                        "only a file made to overload a server is; it was not read.",
                                        ratio=m.file_size // max(m.compress_size, 1)), field="file")
        if _SHARED_STRINGS in archive.namelist():
            count = 0
            tail = b""
            with archive.open(_SHARED_STRINGS) as fh:
                while chunk := fh.read(1 << 20):
                    data = tail + chunk
                    count += data.count(b"<si>") + data.count(b"<si ") + data.count(b":si>") + data.count(b":si ")
                    tail = data[-4:]
                    # a tag split across chunks is counted in the next pass: drop it from this one
                    count -= tail.count(b"<si>") + tail.count(b"<si ") + tail.count(b":si>") + tail.count(b":si ")
                    if count > limits.xlsx_shared_strings:
                        raise ImportFileError(
                            _("The Excel file holds more than %(max)s different texts; split it or save it as CSV.",
                              max=limits.xlsx_shared_strings), field="file")
    stream.seek(0)

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
    limits = FileLimits.from_config()
    try:
        head = stream.read(4096)
        stream.seek(0)
        fmt = detect_format(head, filename)
        size = _stream_size(stream)
        if size > limits.file_bytes:
            raise ImportFileError(_("The file is larger than %(max)s MB; split it.", max=_mb(limits.file_bytes)),
                                  field="file")
        if fmt == "xlsx":
            check_xlsx_container(stream, limits)
        table = _read_xlsx(stream, limits) if fmt == "xlsx" else _read_csv(stream, limits)
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


def _stream_size(stream: IO[bytes]) -> int:
    position = stream.tell()
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(position)
    return size


def _row_limits(number: int, values: list, limits: FileLimits) -> None:
    """Refuse a row beyond the row, column or cell-size limits (checked while reading, before writing)."""
    if number > limits.rows + 1:
        raise ImportFileError(_("The file has more than %(max)s rows; split it.", max=limits.rows), field="file")
    if len(values) > limits.columns:
        used = len(values)
        while used and not values[used - 1]:  # empty cells at the end of a row are no columns
            used -= 1
        if used > limits.columns:
            raise ImportFileError(_("Row %(row)s has %(n)s columns, more than the %(max)s allowed.", row=number,
                                    n=used, max=limits.columns), field="file")
    for value in values:
        if isinstance(value, str) and len(value) > limits.field_chars:
            raise ImportFileError(_("Row %(row)s has a cell longer than %(max)s characters.", row=number,
                                    max=limits.field_chars), field="file")


def _read_csv(stream: IO[bytes], limits: FileLimits = FileLimits()) -> Table:
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
    if estimated > limits.rows + 1:
        raise ImportFileError(_("The file has more than %(max)s rows; split it.", max=limits.rows), field="file")
    reader = csv.reader(io.StringIO(text, newline=""))
    previous = csv.field_size_limit(limits.field_chars + 1)  # the csv module's own guard, set to ours
    try:
        header = next(reader, None)
        if header is not None:
            _row_limits(1, header, limits)
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
                _row_limits(number, values, limits)
                if any(values) and any(v.strip() for v in values):
                    yield number, values
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise ImportFileError(_("Row %(row)s has a cell longer than %(max)s characters.", row=number + 1,
                                        max=limits.field_chars), field="file") from None
            raise ImportFileError(_("Row %(row)s cannot be read as CSV: %(reason)s", row=number + 1,
                                    reason=str(exc)), field="file") from None

    return Table("csv", header, rows(), estimated, closer=lambda: csv.field_size_limit(previous))


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


def _read_xlsx(stream: IO[bytes], limits: FileLimits = FileLimits()) -> Table:
    import openpyxl  # not at the top: it takes ~0.3 s to import and only reading a workbook needs it

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
    try:
        _row_limits(1, header, limits)
    except ImportFileError:
        workbook.close()
        raise
    estimated = (sheet.max_row - 1) if sheet.max_row else None

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for number, values in enumerate(iterator, start=2):
                texts = [_cell_text(v) for v in values]
                _row_limits(number, texts, limits)
                if any(t.strip() for t in texts):
                    yield number, texts
        except ImportFileError:
            raise
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
    return spreadsheets.csv_bytes(template_header(kind), [])


def template_xlsx(kind: str, allowed: Optional[dict[str, list[str]]] = None) -> bytes:
    """An XLSX template: the header row to fill in (first sheet, the one imported), a filled-in example row
    (sheet "example", so an untouched template imports nothing) and the allowed values (codes with their
    names; names are accepted too)."""
    header = template_header(kind)
    allowed = allowed or {}
    values = list(itertools.zip_longest(*allowed.values(), fillvalue="")) if allowed else []
    return spreadsheets.xlsx_bytes({kind: (header, []), "example": (header, [EXAMPLES.get(kind, [])[:len(header)]]),
                                    "allowed values": (list(allowed), values)})


def allowed_values(session) -> dict[str, list[str]]:
    """What the templates' coded columns accept: code and name of each county, town and product; kinds; scopes."""
    regions = session.execute(select(Region.code, Region.name_zh, Region.level).order_by(Region.code)).all()
    return {
        # Words people write, which the importer reads (the codes are accepted too).
        "kind": [zh for zh, k in PRODUCER_KIND_ALIASES.items() if k in ("enterprise", "cooperative", "family_farm",
                                                                       "household") and not zh.isascii()],
        "county_code": [f"{code} {name}" for code, name, level in regions if level == "county"],
        "town_code": [f"{code} {name}" for code, name, level in regions if level == "town"],
        "product": [name for (name,) in session.execute(select(Product.name_zh))],
        "scope": ["保护范围", "全行业"],
    }


# One example row per kind (the XLSX template's second row).
EXAMPLES = {
    "producers": ["91640521MA76XXXXX1", "", "中宁县示例枸杞合作社", "合作社", "中宁县", "宁安镇", "zhongning-goji",
                  "宁夏中卫市中宁县宁安镇", "张三", "13900000000", "2024-03-01", ""],
    "output": ["91640521MA76XXXXX1", "中宁枸杞", "2025", "12000", "600000"],
    "sector-totals": ["中宁枸杞", "2025", "中宁县", "3600", "", "中宁县统计局《统计公报》2025", "whole_sector"],
    "authorisations": ["91640521MA76XXXXX1", "中宁枸杞", "批准", "2025-03-01", "中宁地标许字〔2025〕1号", "",
                       "2028-02-28"],
    "plots": ["91640521MA76XXXXX1", "宁安镇", "35.5", "宁杞7号", "37.49", "105.66", "宁安一号地块"],
}
