"""Jinja filters: registered from the one formatting layer (gi_trace.formatting)."""
from __future__ import annotations

from flask import Flask

from gi_trace import formatting


def register(app: Flask) -> None:
    formatting.register(app)
