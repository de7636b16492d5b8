"""Import every table model so `SQLModel.metadata` knows the whole schema (migrations, tests)."""
from __future__ import annotations

import importlib

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

# Areas added later register their models here too when present.
for _area in ("tracing", "scan", "oversight"):
    try:
        importlib.import_module(f"gi_trace.{_area}.models")
    except ModuleNotFoundError as exc:
        if exc.name is None or not f"gi_trace.{_area}.models".startswith(exc.name):
            raise

metadata = SQLModel.metadata
