"""What an import did: the problems found per row and cell, and the counts."""
from __future__ import annotations

from dataclasses import dataclass, field

from gi_trace.errors import ValidationError


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
