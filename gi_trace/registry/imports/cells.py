"""Parsing one cell: numbers, years, dates and text, each refused with its column and a reason."""
from __future__ import annotations

import math
import re
from datetime import date
from typing import Optional

from flask_babel import gettext as _

# The same bounds as the register's own forms (registry.services.record_output, add_sector_total).
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_OUTPUT_KG, MAX_OUTPUT_VALUE_YUAN = 1e10, 1e13
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
