"""Import every table model so `SQLModel.metadata` knows the whole schema (migrations, tests)."""
from __future__ import annotations

import importlib
import pkgutil

from sqlmodel import SQLModel

# Every area's models*.py modules register their tables, lowest layer first.
for _area in ("accounts", "registry", "authorisation", "jobs", "tracing", "scan", "oversight"):
    _package = importlib.import_module(f"gi_trace.{_area}")
    for _module in pkgutil.iter_modules(_package.__path__):
        if _module.name.startswith("models"):
            importlib.import_module(f"gi_trace.{_area}.{_module.name}")

metadata = SQLModel.metadata
