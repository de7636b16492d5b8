"""The kinds of file the register imports, each with its importer and its columns.

The register's own kinds are listed here; another area adds its kind with `register_kind` (the app
factory calls `gi_trace.authorisation.imports.register`), so the register never imports a higher layer.
"""
from __future__ import annotations

from gi_trace.registry.imports.base import _Importer
from gi_trace.registry.imports.output import _OutputImporter
from gi_trace.registry.imports.prefixes import _PrefixImporter
from gi_trace.registry.imports.plots import _PlotImporter
from gi_trace.registry.imports.producers import _PartyImporter, _ProducerImporter
from gi_trace.registry.imports.sector_totals import _SectorTotalImporter

KINDS: list[str] = []
# kind -> (required columns, optional columns), in the order of the template files.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
IMPORTERS: dict[str, type[_Importer]] = {}
# Imports of areas above the register that write through their own services as they check (a dealer's
# day of purchases, in tracing): kind -> handler(session, user, path, dry_run) -> ImportResult. Offered by
# `flask --app gi_trace import` only; the area has its own upload page.
HANDLERS: dict = {}


def register_handler(kind: str, handler) -> None:
    """Let `flask --app gi_trace import KIND FILE` run another area's importer."""
    HANDLERS[kind] = handler


def all_kinds() -> tuple[str, ...]:
    """Every kind the command line imports."""
    return tuple(KINDS) + tuple(k for k in HANDLERS if k not in KINDS)


def register_kind(kind: str, importer: type[_Importer], required: tuple[str, ...],
                  optional: tuple[str, ...] = ()) -> None:
    """Offer a kind of file to import (the upload page, the CLI and the templates list it)."""
    if kind not in KINDS:
        KINDS.append(kind)
    COLUMNS[kind] = (tuple(required), tuple(optional))
    IMPORTERS[kind] = importer


register_kind("producers", _ProducerImporter,
              ("uscc", "registry_no", "name", "kind", "county_code", "town_code", "products"),
              ("address", "contact_name", "contact_phone", "registered_on", "deregistered_on", "gln"))
# Every party of the chain (growers, traders, processors, markets, retailers); `contact` is a phone number or
# a name, and products are optional (only growers are the compliance shares' members).
register_kind("parties", _PartyImporter, ("uscc", "registry_no", "name", "kind", "county_code", "town_code", "contact"),
              ("address", "products", "gln"))
register_kind("output", _OutputImporter, ("producer", "product", "year", "output_kg", "output_value_yuan"))
register_kind("sector-totals", _SectorTotalImporter,
              ("product", "year", "county_code", "producers_total", "output_value_yuan", "source"), ("scope",))
register_kind("gs1-prefixes", _PrefixImporter, ("producer", "prefix"))
# From the planting census: one row per plot.
register_kind("plots", _PlotImporter, ("producer", "town_code", "area_mu"), ("cultivar", "lat", "lon", "name"))
