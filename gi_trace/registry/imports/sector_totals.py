"""The sector-totals importer: a county's yearly totals of a product, from statistics."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from gi_trace.registry.imports.base import Progress, _Importer
from gi_trace.registry.imports.cells import _Bad, _integer, _number, _text, _year
from gi_trace.registry.models import TOTAL_SCOPES, Region, SectorTotal

SCOPE_ALIASES = {"": "protected_area", "保护范围": "protected_area", "保护区域": "protected_area",
                 "全行业": "whole_sector", "全县": "whole_sector", "全市": "whole_sector"}


class _SectorTotalImporter(_Importer):
    kind = "sector-totals"

    def __init__(self, *args):
        super().__init__(*args)
        self.product_ids = self.products()
        self.counties = set(self.session.execute(
            select(Region.code).where(Region.level == "county")).scalars())
        self.seen: dict[tuple, int] = {}
        self.rows: list[dict] = []

    def check(self, row: int, cells: dict[str, str]) -> None:
        bad = False
        product_id = self.product_ids.get(cells["product"])
        if product_id is None:
            self.error(row, "product", _("Unknown product %(slug)s.", slug=cells["product"]))
            bad = True
        county = self.region_code(cells["county_code"], "county") or None
        if county is not None and county not in self.counties:
            self.error(row, "county_code", _("Unknown county code %(code)s.", code=county))
            bad = True
        elif self.outside_county(county):
            self.county_error(row, "county_code")
            bad = True
        year = producers = value = None
        source = ""
        try:
            year = _year(cells["year"])
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        try:
            producers = _integer(cells["producers_total"], "producers_total", required=False)
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        try:
            value = _number(cells["output_value_yuan"], "output_value_yuan", required=False)
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        try:
            source = _text(cells["source"], "source", 300)
            if not source:
                raise _Bad("source", _("Name the source of the figures."))
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
            bad = True
        scope = SCOPE_ALIASES.get(cells.get("scope", "").strip().lower(), cells.get("scope", "").strip())
        if scope not in TOTAL_SCOPES:
            self.error(row, "scope", _("The scope is protected_area (the protected towns) or whole_sector "
                                       "(the whole county or city)."))
            bad = True
        if not bad and producers is None and value is None:
            self.error(row, "producers_total", _("Give the number of producers, the output value, or both."))
            bad = True
        if bad:
            return
        key = (product_id, year, county)
        if key in self.seen:
            self.error(row, "county_code", _("Row %(row)s already gives this product's totals for this year "
                                             "and county.", row=self.seen[key]))
            return
        self.seen[key] = row
        self.rows.append({"product_id": product_id, "year": year, "county_code": county,
                          "producers_total": producers, "output_value_yuan": value, "source": source,
                          "scope": scope})

    def finish(self) -> None:
        table = SectorTotal.__table__
        existing = {(r.product_id, r.year, r.county_code): r for r in self.session.execute(
            select(table.c.id, table.c.product_id, table.c.year, table.c.county_code, table.c.producers_total,
                   table.c.output_value_yuan, table.c.source, table.c.scope))}
        self.inserts: list[dict] = []
        self.updates: list[dict] = []
        for values in self.rows:
            old = existing.get((values["product_id"], values["year"], values["county_code"]))
            if old is None:
                self.inserts.append(values)
            elif (old.producers_total, old.output_value_yuan, old.source, old.scope) != (
                    values["producers_total"], values["output_value_yuan"], values["source"], values["scope"]):
                self.updates.append({"b_id": old.id, "b_producers_total": values["producers_total"],
                                     "b_output_value_yuan": values["output_value_yuan"],
                                     "b_source": values["source"], "b_scope": values["scope"]})
            else:
                self.result.unchanged += 1
        self.result.inserted = len(self.inserts)
        self.result.updated = len(self.updates)

    def write(self, progress: Progress) -> None:
        table = SectorTotal.__table__
        self.bulk_insert(table, self.inserts, progress)
        self.bulk_update(table, ["producers_total", "output_value_yuan", "source", "scope"], self.updates, progress)
