"""The plots importer: planted plots from the planting census (以地定产's basis, and an approval's evidence)."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from gi_trace.registry.imports.base import Progress, _Importer
from gi_trace.registry.imports.cells import _Bad, _number, _text
from gi_trace.registry.models import Plot, Region


class _PlotImporter(_Importer):
    """Plots from the planting census: a row the register already holds (same producer, town, area, cultivar and
    position) is unchanged; others are added."""

    kind = "plots"

    def __init__(self, *args):
        super().__init__(*args)
        self.codes = self.producer_codes()
        self.towns = {code: parent for code, parent in self.session.execute(
            select(Region.code, Region.parent_code).where(Region.level == "town"))}
        table = Plot.__table__
        self.existing = {(r[0], r[1], r[2], r[3] or "", r[4], r[5]) for r in self.session.execute(
            select(table.c.producer_id, table.c.town_code, table.c.area_mu, table.c.cultivar, table.c.latitude,
                   table.c.longitude))}
        self.rows: list[dict] = []

    def check(self, row: int, cells: dict[str, str]) -> None:
        errors = len(self.result.errors)
        producer = self.find_producer(self.codes, cells["producer"])
        if producer is None:
            self.error(row, "producer", _("No producer with code %(code)s.", code=cells["producer"]))
        elif self.outside_county(producer[1]):
            self.county_error(row, "producer")
        town = self.region_code(cells["town_code"], "town", producer[1] if producer else None)
        if town not in self.towns:
            self.error(row, "town_code", _("Unknown town code %(code)s.", code=cells["town_code"]))
        values = {}
        for column, low, high in (("area_mu", 0.01, 99999), ("lat", -90, 90), ("lon", -180, 180)):
            try:
                values[column] = _number(cells.get(column, ""), column, required=column == "area_mu")
            except _Bad as exc:
                self.error(row, exc.column, exc.message)
                continue
            if values[column] is not None and not low <= values[column] <= high:
                self.error(row, column, _("Must be between %(low)s and %(high)s.", low=low, high=high))
        try:
            cultivar = _text(cells.get("cultivar", ""), "cultivar", 64)
            name = _text(cells.get("name", ""), "name", 100)
        except _Bad as exc:
            self.error(row, exc.column, exc.message)
        if len(self.result.errors) > errors:
            return
        key = (producer[0], town, values["area_mu"], cultivar, values["lat"], values["lon"])
        if key in self.existing:
            self.result.unchanged += 1
            return
        self.existing.add(key)
        self.rows.append({"producer_id": producer[0], "town_code": town, "area_mu": values["area_mu"],
                          "cultivar": cultivar, "latitude": values["lat"], "longitude": values["lon"], "name": name})

    def finish(self) -> None:
        self.result.inserted = len(self.rows)

    def write(self, progress: Progress) -> None:
        self.bulk_insert(Plot.__table__, self.rows, progress)
