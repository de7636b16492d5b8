"""Reading CSV and XLSX files into a header and rows of stripped strings; empty template files."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import IO, Callable, Iterator, Optional, Union

from flask_babel import gettext as _

from gi_trace import spreadsheets
from gi_trace.registry.imports.kinds import COLUMNS
from gi_trace.registry.imports.results import ImportFileError

_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"

Source = Union[str, Path, bytes, IO[bytes]]


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
    return spreadsheets.csv_bytes(template_header(kind), [])


def template_xlsx(kind: str) -> bytes:
    """An XLSX template with the header row."""
    return spreadsheets.xlsx_bytes({kind: (template_header(kind), [])})
