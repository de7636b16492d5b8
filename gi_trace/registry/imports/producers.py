"""The producers importer: register businesses (with their towns and products) or update them."""
from __future__ import annotations

from typing import NamedTuple, Optional

from flask_babel import gettext as _
from sqlalchemy import func, select

from gi_trace.registry.gln import normalise as normalise_gln
from gi_trace.registry.imports.base import Progress, _Importer
from gi_trace.registry.imports.cells import _Bad, _iso_date
from gi_trace.registry.imports.results import RowProblem
from gi_trace.registry.models import Producer, ProducerProduct, Product, Region
from gi_trace.registry.services import ProducerInput, check_producer_input
from gi_trace.registry.uscc import normalise as normalise_uscc
from gi_trace.timeutil import local_today

# Spreadsheets kept by regulators often use the Chinese words; the ids stay English.
PRODUCER_KIND_ALIASES = {
    "企业": "enterprise", "合作社": "cooperative", "农民专业合作社": "cooperative", "家庭农场": "family_farm",
    "农户": "household", "种植户": "household", "family farm": "family_farm", "family-farm": "family_farm",
    "经销商": "trader", "商行": "trader", "收购商": "trader", "贸易商": "trader", "加工企业": "processor",
    "加工商": "processor", "市场": "market", "市场开办者": "market", "零售商": "retailer", "超市": "retailer",
}

# Column widths of the producer table that the register rule does not already check.
LIMITS = (("registry_no", 32), ("address", 300), ("contact_name", 100), ("contact_phone", 40))


class _RegionRow(NamedTuple):
    code: str
    level: str
    parent_code: Optional[str]


class _ProducerImporter(_Importer):
    kind = "producers"
    FIELDS = ("uscc", "registry_no", "name", "kind", "county_code", "town_code", "address", "contact_name",
              "contact_phone", "registered_on", "deregistered_on", "gln")

    def __init__(self, *args):
        super().__init__(*args)
        # Plain tuples, not ORM objects: the rule reads .level and .parent_code on every row.
        self.regions = {r.code: _RegionRow(r.code, r.level, r.parent_code) for r in self.session.execute(
            select(Region.code, Region.level, Region.parent_code))}
        self.product_ids = self.products()
        table = Producer.__table__
        self.by_uscc: dict[str, dict] = {}
        self.by_registry_no: dict[str, dict] = {}
        self.by_gln: dict[str, dict] = {}
        for row in self.session.execute(select(table.c.id, table.c.uscc_check_ok,
                                               *[table.c[f] for f in self.FIELDS])).mappings():
            row = dict(row)
            if row["uscc"]:
                self.by_uscc[row["uscc"]] = row
            if row["registry_no"]:
                self.by_registry_no[row["registry_no"]] = row
            if row["gln"]:
                self.by_gln[row["gln"]] = row
        self.links: set[tuple[int, int]] = set(self.session.execute(
            select(ProducerProduct.producer_id, ProducerProduct.product_id)).all())
        self.seen_uscc: dict[str, int] = {}
        self.seen_registry_no: dict[str, int] = {}
        self.seen_gln: dict[str, int] = {}
        self.new: list[dict] = []
        self.new_products: list[list[int]] = []
        self.changed: list[dict] = []
        self.new_links: list[dict] = []

    def check(self, row: int, cells: dict[str, str]) -> None:
        errors_before = len(self.result.errors)
        kind = cells["kind"]
        kind = PRODUCER_KIND_ALIASES.get(kind, PRODUCER_KIND_ALIASES.get(kind.lower(), kind.lower()))
        parts = cells.get("products", "").replace("；", ";").replace("、", ";").split(";")
        slug_of = dict(self.session.execute(select(Product.name_zh, Product.slug)).all()) \
            if not hasattr(self, "_slug_of") else self._slug_of
        self._slug_of = slug_of
        slugs = list(dict.fromkeys(slug_of.get(s.strip(), s.strip()) for s in parts if s.strip()))
        county_code = self.region_code(cells["county_code"], "county")
        data = ProducerInput(
            name=cells["name"], kind=kind, county_code=county_code,
            town_code=self.region_code(cells["town_code"], "town", county_code),
            uscc=normalise_uscc(cells["uscc"]), registry_no=cells["registry_no"],
            address=cells.get("address", ""), contact_name=cells.get("contact_name", ""),
            contact_phone=cells.get("contact_phone", ""), products=slugs,
            gln=normalise_gln(cells.get("gln", "")),
        )
        warnings = []
        for problem in check_producer_input(data, self.regions, self.product_ids):
            if problem.warning:
                warnings.append(problem)
            else:
                self.error(row, problem.field, problem.message)
        for column, limit in LIMITS:
            value = getattr(data, column)
            if len(value) > limit:
                self.error(row, column, _("Longer than %(n)s characters.", n=limit))
        if self.outside_county(data.county_code):
            self.county_error(row, "county_code")
        dates = {}
        for column in ("registered_on", "deregistered_on"):
            try:
                dates[column] = _iso_date(cells.get(column, ""), column, required=False)
            except _Bad as bad:
                self.error(row, bad.column, bad.message)
        if dates.get("registered_on") and dates.get("deregistered_on") and \
                dates["deregistered_on"] <= dates["registered_on"]:
            self.error(row, "deregistered_on", _("The producer leaves the register before it joins it."))
        uscc, registry_no = data.uscc, data.registry_no
        # The same producer twice in one file is a mistake the user should see.
        if uscc:
            if uscc in self.seen_uscc:
                self.error(row, "uscc", _("The same credit code is already in row %(row)s.",
                                          row=self.seen_uscc[uscc]))
            else:
                self.seen_uscc[uscc] = row
        if registry_no:
            if registry_no in self.seen_registry_no:
                self.error(row, "registry_no", _("The same registry number is already in row %(row)s.",
                                                 row=self.seen_registry_no[registry_no]))
            else:
                self.seen_registry_no[registry_no] = row
        gln = data.gln
        if gln:
            if gln in self.seen_gln:
                self.error(row, "gln", _("The same GLN is already in row %(row)s.", row=self.seen_gln[gln]))
            else:
                self.seen_gln[gln] = row
        by_uscc = self.by_uscc.get(uscc) if uscc else None
        by_number = self.by_registry_no.get(registry_no) if registry_no else None
        existing = by_uscc or by_number
        if by_uscc is not None and by_number is not None and by_uscc["id"] != by_number["id"]:
            self.error(row, "registry_no", _("This registry number belongs to another producer (%(code)s).",
                                             code=by_number["uscc"] or by_number["registry_no"]))
        elif by_uscc is None and by_number is not None and uscc and by_number["uscc"]:
            self.error(row, "uscc", _("Registry number %(number)s belongs to the producer with credit code "
                                      "%(code)s.", number=registry_no, code=by_number["uscc"]))
        holder = self.by_gln.get(gln) if gln else None
        if holder is not None and (existing is None or holder["id"] != existing["id"]):
            self.error(row, "gln", _("GLN %(gln)s is already recorded for %(name)s.", gln=gln,
                                     name=holder["name"]))
        if existing is not None and self.outside_county(existing["county_code"]):
            self.county_error(row, "county_code")
        if len(self.result.errors) > errors_before:
            return
        # A failed check character warns only when the code is new to the register: once accepted, it stays.
        if existing is None or existing["uscc"] != uscc:
            for problem in warnings:
                self.result.warnings.append(RowProblem(row, problem.field, problem.message))
        values = {
            "uscc": uscc or None, "registry_no": registry_no or None, "name": data.name.strip(), "kind": kind,
            "county_code": data.county_code, "town_code": data.town_code,
            "uscc_check_ok": not warnings if (existing is None or existing["uscc"] != uscc) else
            existing["uscc_check_ok"],
        }
        for column in ("address", "contact_name", "contact_phone"):
            if column in self.present:
                values[column] = getattr(data, column)
        if gln:  # an empty cell never erases a GLN on the register (a regulator clears it on the page)
            values["gln"] = gln
        for column in ("registered_on", "deregistered_on"):
            # An empty cell never erases a date already on the register.
            if column in self.present and (dates.get(column) or existing is None):
                values[column] = dates.get(column)
        product_ids = [self.product_ids[s] for s in slugs]
        if existing is None:
            self.new.append(values)
            self.new_products.append(product_ids)
            return
        if values["registry_no"] is None:
            values["registry_no"] = existing["registry_no"]  # a code only adds; the import never erases one
        if values["uscc"] is None:
            values["uscc"] = existing["uscc"]
        changes = {k: v for k, v in values.items() if existing.get(k) != v}
        links = [pid for pid in product_ids if (existing["id"], pid) not in self.links]
        for pid in links:
            self.links.add((existing["id"], pid))
            self.new_links.append({"producer_id": existing["id"], "product_id": pid})
        if changes:
            merged = {k: existing[k] for k in (*self.FIELDS, "uscc_check_ok")}
            merged.update(values)
            if "uscc" in changes and not merged["uscc_check_ok"]:
                merged["uscc_warning_accepted_by"] = getattr(self.user, "id", None)
            if "gln" in changes:
                merged["gln_recorded"] = True
            self.changed.append(merged | {"b_id": existing["id"]})
        if changes or links:
            self.result.updated += 1
        else:
            self.result.unchanged += 1

    def finish(self) -> None:
        self.result.inserted = len(self.new)

    def write(self, progress: Progress) -> None:
        table = Producer.__table__
        user_id = getattr(self.user, "id", None)
        rows = []
        for values in self.new:
            rows.append({
                "uscc": values["uscc"], "registry_no": values["registry_no"],
                "uscc_check_ok": values["uscc_check_ok"],
                "uscc_warning_accepted_by": None if values["uscc_check_ok"] else user_id,
                "name": values["name"], "kind": values["kind"], "county_code": values["county_code"],
                "town_code": values["town_code"], "address": values.get("address", ""),
                "contact_name": values.get("contact_name", ""),
                "contact_phone": values.get("contact_phone", ""),
                "registered_on": values.get("registered_on") or local_today(),
                "deregistered_on": values.get("deregistered_on"),
                "created_at": self.now, "created_by": user_id, "gln": values.get("gln"),
                "gln_recorded_by": user_id if values.get("gln") else None,
                "gln_recorded_at": self.now if values.get("gln") else None,
            })
        before = self.session.execute(select(func.max(table.c.id))).scalar() or 0
        self.bulk_insert(table, rows, progress)
        if rows:
            # Map the new rows' ids by their codes: one query instead of one RETURNING per row.
            ids: dict[str, int] = {}
            for pid, uscc, registry_no in self.session.execute(
                    select(table.c.id, table.c.uscc, table.c.registry_no).where(table.c.id > before)):
                ids[uscc or registry_no] = pid
            for values, product_ids in zip(self.new, self.new_products):
                pid = ids[values["uscc"] or values["registry_no"]]
                self.new_links.extend({"producer_id": pid, "product_id": p} for p in product_ids)
        if self.changed:
            columns = (*self.FIELDS, "uscc_check_ok")
            update_rows = [{"b_id": r["b_id"], **{"b_" + c: r[c] for c in columns}} for r in self.changed]
            self.bulk_update(table, columns, update_rows)
            accepted = [{"b_id": r["b_id"], "b_uscc_warning_accepted_by": r["uscc_warning_accepted_by"]}
                        for r in self.changed if "uscc_warning_accepted_by" in r]
            if accepted:
                self.bulk_update(table, ["uscc_warning_accepted_by"], accepted)
            recorded = [{"b_id": r["b_id"], "b_gln_recorded_by": user_id, "b_gln_recorded_at": self.now}
                        for r in self.changed if r.get("gln_recorded")]
            if recorded:
                self.bulk_update(table, ["gln_recorded_by", "gln_recorded_at"], recorded)
        self.bulk_insert(ProducerProduct.__table__, self.new_links)


class _PartyImporter(_ProducerImporter):
    """Parties of the chain: the producers' rules, with one `contact` column (a phone number or a name)."""

    kind = "parties"

    def check(self, row: int, cells: dict[str, str]) -> None:
        contact = cells.pop("contact", "")
        if "contact" in self.present:
            digits = sum(ch.isdigit() for ch in contact)
            is_phone = digits >= 5 and digits >= len(contact.replace(" ", "").replace("-", "")) - 2
            # The file's contact replaces both: a phone number clears an older contact name, and back.
            cells["contact_phone"], cells["contact_name"] = (contact, "") if is_phone else ("", contact)
            self.present |= {"contact_phone", "contact_name"}
        super().check(row, cells)
