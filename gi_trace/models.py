"""Import every table model so `SQLModel.metadata` knows the whole schema (migrations, tests)."""
from __future__ import annotations

import importlib
import pkgutil

from sqlmodel import SQLModel

from gi_trace.accounts.models import ApiToken, User  # noqa: F401
from gi_trace.authorisation.models import AuthorisationDecision  # noqa: F401
from gi_trace.registry.models import (  # noqa: F401
    OutputRecord,
    Plot,
    Producer,
    ProducerProduct,
    Product,
    ProductRegistration,
    ProductTown,
    Region,
    SectorTotal,
    Trademark,
)

# Every area's models*.py modules register their tables too.
for _area in ("jobs", "tracing", "scan", "oversight"):
    _package = importlib.import_module(f"gi_trace.{_area}")
    for _module in pkgutil.iter_modules(_package.__path__):
        if _module.name.startswith("models"):
            importlib.import_module(f"gi_trace.{_area}.{_module.name}")

metadata = SQLModel.metadata
