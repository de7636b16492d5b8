"""Jinja filters for dates, numbers and labels in the current locale."""
from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from flask_babel import format_date, format_datetime, format_decimal, format_percent


def _date(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return format_datetime(value, "yyyy-MM-dd HH:mm")
    if isinstance(value, date):
        return format_date(value, "yyyy-MM-dd")
    return str(value)


def _number(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return format_decimal(round(float(value), digits), format="#,##0" + ("." + "0" * digits if digits else ""))


def _percent(value) -> str:
    if value is None:
        return "—"
    return format_percent(value, format="#,##0.0%")


def register(app: Flask) -> None:
    app.jinja_env.filters["d"] = _date
    app.jinja_env.filters["num"] = _number
    app.jinja_env.filters["pct"] = _percent
