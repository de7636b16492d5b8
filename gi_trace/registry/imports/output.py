"""The output importer: a producer's yearly output of a product (kilograms and value)."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from gi_trace.registry.imports.base import Progress, _Importer
from gi_trace.registry.imports.cells import MAX_OUTPUT_KG, MAX_OUTPUT_VALUE_YUAN, _Bad, _number, _year
from gi_trace.registry.models import OutputRecord, ProducerProduct, Product


class _OutputImporter(_Importer):
    kind = "output"

    def __init__(self, *args):
        super().__init__(*args)
        self.codes = self.producer_codes()
        self.product_ids = self.products()
        self.product_names = dict(self.session.execute(select(Product.id, Product.name_zh)).all())
        # Output is recorded only for a product the producer is registered for (as in record_output).
        self.links: set[tuple[int, int]] = set(self.session.execute(
            select(ProducerProduct.producer_id, ProducerProduct.product_id)).all())
        self.seen: dict[tuple, int] = {}
        self.rows: list[tuple] = []  # (producer_id, product_id, year, kg, value)

    def check(self, row: int, cells: dict[str, str]) -> None:
        bad = False
        producer = self.find_producer(self.codes, cells["producer"])
        if producer is None:
            self.error(row, "producer", _("No producer with code %(code)s.", code=cells["producer"]))
            bad = True
        elif self.outside_county(producer[1]):
            self.county_error(row, "producer")
            bad = True
        product_id = self.product_ids.get(cells["product"])
        if product_id is None:
            self.error(row, "product", _("Unknown product %(slug)s.", slug=cells["product"]))
            bad = True
        year = kg = value = None
        for column in ("year", "output_kg", "output_value_yuan"):
            try:
                if column == "year":
                    year = _year(cells["year"])
                elif column == "output_kg":
                    kg = _number(cells["output_kg"], column)
                    if kg >= MAX_OUTPUT_KG:
                        raise _Bad(column, _("The output must be zero or a positive number of kilograms."))
                else:
                    value = _number(cells["output_value_yuan"], column)
                    if value >= MAX_OUTPUT_VALUE_YUAN:
                        raise _Bad(column, _("The output value must be zero or a positive number of yuan."))
            except _Bad as exc:
                self.error(row, exc.column, exc.message)
                bad = True
        if bad:
            return
        if (producer[0], product_id) not in self.links:
            self.error(row, "product", _("The producer is not registered for %(product)s.",
                                         product=self.product_names[product_id]))
            return
        key = (producer[0], product_id, year)
        first = self.seen.get(key)
        if first is not None:
            self.error(row, "producer", _("Row %(row)s already gives this producer's output of this product "
                                          "in %(year)s.", row=first, year=year))
            return
        self.seen[key] = row
        self.rows.append((producer[0], product_id, year, kg, value))

    def finish(self) -> None:
        table = OutputRecord.__table__
        years = {r[2] for r in self.rows}
        existing: dict[tuple, tuple] = {}
        if years:
            query = (select(table.c.producer_id, table.c.product_id, table.c.year, table.c.id,
                            table.c.output_kg, table.c.output_value_yuan)
                     .where(table.c.year.in_(sorted(years))))
            for pid, product_id, year, rid, kg, value in self.session.execute(query):
                existing[(pid, product_id, year)] = (rid, kg, value)
        self.inserts: list[dict] = []
        self.updates: list[dict] = []
        for pid, product_id, year, kg, value in self.rows:
            old = existing.get((pid, product_id, year))
            if old is None:
                self.inserts.append({"producer_id": pid, "product_id": product_id, "year": year,
                                     "output_kg": kg, "output_value_yuan": value})
            elif old[1] != kg or old[2] != value:
                self.updates.append({"b_id": old[0], "b_output_kg": kg, "b_output_value_yuan": value})
            else:
                self.result.unchanged += 1
        self.result.inserted = len(self.inserts)
        self.result.updated = len(self.updates)

    def write(self, progress: Progress) -> None:
        table = OutputRecord.__table__
        self.bulk_insert(table, self.inserts, progress)
        self.bulk_update(table, ["output_kg", "output_value_yuan"], self.updates, progress)
