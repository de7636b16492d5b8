"""`flask --app gi_trace import purchases FILE`: a dealer's day of purchases (收购) from a spreadsheet."""
from __future__ import annotations

from flask import Flask

from gi_trace.registry import imports
from gi_trace.tracing.purchase_import import KIND, import_purchases


def _purchases(session, user, path, dry_run: bool):
    return import_purchases(session, user, path, filename=path.name, dry_run=dry_run)


def register(app: Flask) -> None:
    imports.register_handler(KIND, _purchases)
