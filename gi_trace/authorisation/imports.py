"""The authorisation-decisions importer: each row checked against the history like a decision
recorded on the producer page. Added to the register's import kinds by `register()`, which the app
factory calls (the register does not know authorisation)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import select

from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.authorisation.services import DecisionInput, check_decision, check_evidence
from gi_trace.errors import DomainError
from gi_trace.registry import imports
from gi_trace.registry.imports.base import Progress, _Importer
from gi_trace.registry.imports.cells import _Bad, _iso_date, _text
from gi_trace.registry.models import Plot, Producer, Product, ProductTown
from gi_trace.registry.services import region_name

COLUMNS = (("producer", "product", "action", "effective_date", "reference_no", "reason"), ("valid_until", "sources"))
ACTION_ALIASES = {"申请": "apply", "批准": "approve", "驳回": "reject", "暂停": "suspend", "恢复": "reinstate",
                  "撤销": "revoke"}


@dataclass
class _PendingDecision:
    """A decision from the file, checked against the history as if already recorded."""

    id: int
    action: str
    effective_date: date
    valid_until: Optional[date]
    reference_no: str
    reason: str


class _DecisionImporter(_Importer):
    kind = "authorisations"

    def __init__(self, *args):
        super().__init__(*args)
        self.codes = self.producer_codes()
        self.products_by_slug = {}
        for p in self.session.execute(select(Product)).scalars():
            self.products_by_slug[p.slug] = self.products_by_slug[p.name_zh] = p
        self.towns: dict[int, set[str]] = {}
        for product_id, town in self.session.execute(select(ProductTown.product_id, ProductTown.town_code)):
            self.towns.setdefault(product_id, set()).add(town)
        # An imported approval needs the same evidence as one decided on the page: a grower's plot inside
        # the protected towns, or a processor's or trader's declared sources (check_evidence).
        self.kinds = dict(self.session.execute(select(Producer.id, Producer.kind)).all())
        self.names = dict(self.session.execute(select(Producer.id, Producer.name)).all())
        self.plot_towns: dict[int, set[str]] = {}
        for producer_id, town in self.session.execute(select(Plot.producer_id, Plot.town_code)):
            self.plot_towns.setdefault(producer_id, set()).add(town)
        table = AuthorisationDecision.__table__
        self.history: dict[tuple[int, int], list] = {}
        self.identical: set[tuple] = set()
        max_id = 0
        for d in self.session.execute(select(
                table.c.id, table.c.producer_id, table.c.product_id, table.c.action, table.c.effective_date,
                table.c.valid_until, table.c.reference_no, table.c.reason).order_by(table.c.id)):
            self.history.setdefault((d.producer_id, d.product_id), []).append(
                _PendingDecision(d.id, d.action, d.effective_date, d.valid_until, d.reference_no, d.reason))
            self.identical.add((d.producer_id, d.product_id, d.action, d.effective_date, d.valid_until,
                                d.reference_no, d.reason))
            max_id = max(max_id, d.id)
        # New decisions sort after the recorded ones on the same day (rules.sort_key uses the id).
        self.next_id = max_id + 1
        # Without a user (the CLI without --as) the import acts with the authority of an administrator.
        self.actor = self.user if self.user is not None else SimpleNamespace(
            id=None, role="admin", county_code=None, producer_id=None)
        self.seen: dict[tuple, int] = {}
        self.inserts: list[dict] = []

    def check(self, row: int, cells: dict[str, str]) -> None:
        bad = False
        found = self.find_producer(self.codes, cells["producer"])
        if found is None:
            self.error(row, "producer", _("No producer with code %(code)s.", code=cells["producer"]))
            bad = True
        product = self.products_by_slug.get(cells["product"])
        if product is None:
            self.error(row, "product", _("Unknown product %(slug)s.", slug=cells["product"]))
            bad = True
        action = ACTION_ALIASES.get(cells["action"], cells["action"].lower())
        if action not in rules.ACTIONS:
            self.error(row, "action", _("Unknown action %(action)s; use one of: %(actions)s.",
                                        action=cells["action"], actions=", ".join(rules.ACTIONS)))
            bad = True
        effective = valid_until = None
        reference_no = reason = sources = ""
        for column in ("effective_date", "valid_until", "reference_no", "reason", "sources"):
            try:
                if column == "effective_date":
                    effective = _iso_date(cells["effective_date"], column)
                elif column == "valid_until":
                    valid_until = _iso_date(cells.get("valid_until", ""), column, required=False)
                elif column == "reference_no":
                    reference_no = _text(cells["reference_no"], column, 64)
                elif column == "sources":
                    sources = _text(cells.get("sources", ""), column, 1000)
                else:
                    reason = _text(cells["reason"], column, 1000)
            except _Bad as exc:
                self.error(row, exc.column, exc.message)
                bad = True
        if bad:
            return
        producer_id, county, town = found
        if self.outside_county(county):
            self.county_error(row, "producer")
            return
        key = (producer_id, product.id, action, effective, valid_until, reference_no, reason)
        if key in self.identical:
            self.result.unchanged += 1  # already recorded: importing the file again changes nothing
            return
        if key in self.seen:
            self.error(row, "action", _("The same decision is already in row %(row)s.", row=self.seen[key]))
            return
        self.seen[key] = row
        producer = SimpleNamespace(id=producer_id, county_code=county, town_code=town)
        existing = self.history.setdefault((producer_id, product.id), [])
        data = DecisionInput(action=action, effective_date=effective, reference_no=reference_no,
                             valid_until=valid_until, reason=reason, sources=sources)
        towns = self.towns.get(product.id, set())
        try:
            check_decision(self.actor, producer, product, towns, existing, data,
                           town_name=region_name(self.session, town))
            check_evidence(SimpleNamespace(kind=self.kinds.get(producer_id), name=self.names.get(producer_id, "")),
                           product, towns, self.plot_towns.get(producer_id, set()), data)
        except DomainError as exc:
            column = exc.field if exc.field in COLUMNS[0] + COLUMNS[1] else "action"
            column = {"plots": "producer", "sources": "sources"}.get(exc.field or "", column)
            self.error(row, column, exc.message)
            return
        existing.append(_PendingDecision(self.next_id, action, effective, valid_until, reference_no, reason))
        self.next_id += 1
        self.inserts.append({
            "producer_id": producer_id, "product_id": product.id, "action": action,
            "effective_date": effective,
            "reference_no": reference_no, "valid_until": valid_until, "reason": reason,
            "decided_by": getattr(self.user, "id", None), "recorded_at": self.now, "source": "import",
            "inspection_id": None, "sources": sources,
        })

    def finish(self) -> None:
        self.result.inserted = len(self.inserts)

    def write(self, progress: Progress) -> None:
        self.bulk_insert(AuthorisationDecision.__table__, self.inserts, progress)


def register() -> None:
    """Add the "authorisations" kind to the register's imports (file page, CLI, templates)."""
    imports.register_kind("authorisations", _DecisionImporter, *COLUMNS)
