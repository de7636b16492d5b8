"""以地定产、以产核标 across owners: capacity, harvested, received and GI-marked kilograms of a product in a year.

Per party (and summed per county):
- capacity: Σ plot area in the product's protected towns × the product's maximum dried yield per 亩;
- harvested: the party's harvest batches of the year picked in the protected towns, in dried kilograms (a batch
  still fresh counts as fresh ÷ the product's lowest fresh-to-dried ratio: the most it could dry to);
- received: what arrived in the party's receipts of shipments and its purchases (batches of kind `received` and
  `purchased`), and of that what is of verified origin;
- GI-marked: unit codes × their package size + copies of batch labels × the package a copy labels, on the
  party's batches that may carry the mark (harvests in the protected towns, or origin verified).

A party's traced supply for the mark is its harvest plus its verified receipts. GI-marked kilograms beyond that
supply are the counterfeit risk: `check_party` raises a `marked_over_supply` plausibility flag when units or
labels are issued. Every figure comes from a few set-based GROUP BY queries (city scale: 100,000 households),
never a loop over parties. The year is the batch's harvest year (the crop), which every batch inherits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlmodel import Session

from gi_trace.registry.models import Plot, Producer, Product, ProductTown
from gi_trace.tracing.models import Batch, PlausibilityFlag, ProductLine, UnitCode
from gi_trace.tracing.rules import EPSILON_KG
from gi_trace.tracing.services.flags import raise_flag

MEASURES = ("capacity", "harvested", "received", "received_verified", "marked")
FLAG_KIND = "marked_over_supply"


@dataclass
class Balance:
    """The figures of one party or county (kilograms, dried or as packed)."""

    capacity: float = 0.0
    harvested: float = 0.0
    received: float = 0.0
    received_verified: float = 0.0
    marked: float = 0.0

    @property
    def supply(self) -> float:
        """What the traced sources can supply for the GI mark: own harvest plus verified receipts."""
        return self.harvested + self.received_verified

    @property
    def excess(self) -> float:
        """GI-marked kilograms beyond the traced supply (0 when within it)."""
        over = self.marked - self.supply
        return round(over, 3) if over > EPSILON_KG else 0.0


def _tables():
    return Batch.__table__, Producer.__table__, ProductTown.__table__


def _parts(product: Product, year: int, producer_id: Optional[int] = None) -> list:
    """Two SELECTs, each (producer_id, capacity, harvested, received, received_verified, marked): the plots, and
    one pass over the product's batches of the year (read from the covering index ix_batch_balance)."""
    b, _p, pt = _tables()
    plot, unit, line = Plot.__table__, UnitCode.__table__, ProductLine.__table__
    zero = literal(0.0)
    protected = select(pt.c.town_code).where(pt.c.product_id == product.id)
    ratio = product.fresh_dried_ratio_min or product.fresh_dried_ratio_max or 1.0
    cap = product.max_dried_yield_kg_per_mu or 0.0
    sizes = [float(v) for v in (product.package_sizes_kg or [])]
    copy_kg = min(sizes) if sizes else 0.0
    capacity = (select(plot.c.producer_id.label("pid"), (func.sum(plot.c.area_mu) * cap).label("capacity"),
                       zero.label("harvested"), zero.label("received"), zero.label("received_verified"),
                       zero.label("marked"))
                .where(plot.c.town_code.in_(protected),
                       *([] if producer_id is None else [plot.c.producer_id == producer_id]))
                .group_by(plot.c.producer_id))
    picked_inside = and_(b.c.kind == "harvest", b.c.origin_town_code.in_(protected))
    arrived = b.c.kind.in_(("received", "purchased"))
    may_carry_mark = or_(b.c.origin_state == "verified", picked_inside)
    dried = case((b.c.product_form == "fresh", b.c.quantity_kg / ratio), else_=b.c.quantity_kg)
    # Evaluated only for the few batches with labels (CASE is lazy): their unit codes and copies' packages.
    units_kg = (select(func.coalesce(func.sum(unit.c.package_kg), 0.0)).where(unit.c.batch_id == b.c.id)
                .scalar_subquery())
    copy_size = func.coalesce(select(line.c.package_kg).where(line.c.id == b.c.product_line_id).scalar_subquery(),
                              copy_kg)
    labelled = (case((b.c.units_issued > 0, units_kg), else_=0.0)
                + case((b.c.label_copies > 0, b.c.label_copies * copy_size), else_=0.0))
    batches = (select(b.c.producer_id.label("pid"), zero,
                      func.sum(case((picked_inside, dried), else_=0.0)),
                      func.sum(case((arrived, b.c.quantity_kg), else_=0.0)),
                      func.sum(case((and_(arrived, b.c.origin_state == "verified"), b.c.quantity_kg), else_=0.0)),
                      func.sum(case((and_(or_(b.c.units_issued > 0, b.c.label_copies > 0), may_carry_mark),
                                     labelled), else_=0.0)))
               .where(b.c.product_id == product.id, b.c.harvest_year == year,
                      *([] if producer_id is None else [b.c.producer_id == producer_id]))
               .group_by(b.c.producer_id))
    return [capacity, batches]


def _per_party(product: Product, year: int, producer_id: Optional[int] = None):
    """A subquery: one row per party with its five figures."""
    rows = union_all(*_parts(product, year, producer_id)).subquery("parts")
    return (select(rows.c.pid, *(func.sum(rows.c[m]).label(m) for m in MEASURES))
            .group_by(rows.c.pid).subquery("party"))


def party_balance(session: Session, product: Product, year: int, producer_id: int) -> Balance:
    """One party's figures for a product and (harvest) year."""
    party = _per_party(product, year, producer_id)
    row = session.execute(select(*(party.c[m] for m in MEASURES))).first()
    return Balance(*(float(v or 0.0) for v in row)) if row else Balance()


@dataclass
class CountyRow:
    county_code: str
    balance: Balance
    excess: float  # Σ over the county's parties of GI-marked kilograms beyond their own traced supply
    parties_over: int  # how many of its parties mark more than they can supply


def by_county(session: Session, product: Product, year: int, county_codes: list[str]) -> list[CountyRow]:
    """Per county: the summed figures, and the parties marking more than their traced supply."""
    party = _per_party(product, year)
    _b, p, _pt = _tables()
    over = party.c.marked - party.c.harvested - party.c.received_verified
    query = (select(p.c.county_code, *(func.sum(party.c[m]) for m in MEASURES),
                    func.sum(case((over > EPSILON_KG, over), else_=0.0)),
                    func.sum(case((over > EPSILON_KG, 1), else_=0)))
             .select_from(party.join(p, p.c.id == party.c.pid))
             .where(p.c.county_code.in_(county_codes))
             .group_by(p.c.county_code))
    found = {r[0]: r for r in session.execute(query).all()}
    out = []
    for code in county_codes:
        r = found.get(code)
        if r is None:
            out.append(CountyRow(code, Balance(), 0.0, 0))
        else:
            out.append(CountyRow(code, Balance(*(float(v or 0.0) for v in r[1:6])), round(float(r[6] or 0.0), 3),
                                 int(r[7] or 0)))
    return out


@dataclass
class PartyRow:
    producer_id: int
    name: str
    kind: str
    town_code: str
    balance: Balance
    open_flag: bool


def parties(session: Session, product: Product, year: int, county_code: str, *, limit: int = 50,
            offset: int = 0) -> tuple[int, list[PartyRow]]:
    """A county's parties with any figure, those marking most beyond their supply first: (total, page)."""
    party = _per_party(product, year)
    _b, p, _pt = _tables()
    f = PlausibilityFlag.__table__
    over = party.c.marked - party.c.harvested - party.c.received_verified
    # The total rides along as a window count: one pass over the figures, not a second one to count them.
    query = (select(party.c.pid, p.c.name, p.c.kind, p.c.town_code, *(party.c[m] for m in MEASURES),
                    func.count().over())
             .select_from(party.join(p, p.c.id == party.c.pid))
             .where(p.c.county_code == county_code)
             .order_by(over.desc(), party.c.marked.desc(), party.c.pid).limit(max(limit, 1)).offset(offset))
    found = session.execute(query).all()
    if found:
        total = int(found[0][9])
    else:  # past the last page (or nothing at all): count on its own
        total = session.execute(select(func.count()).select_from(party.join(p, p.c.id == party.c.pid))
                                .where(p.c.county_code == county_code)).scalar_one()
    if limit <= 0:
        return total, []
    flagged = set(session.execute(select(f.c.producer_id).where(
        f.c.producer_id.in_([r[0] for r in found]), f.c.kind == FLAG_KIND, f.c.status == "open")).scalars())
    rows = [PartyRow(r[0], r[1], r[2], r[3] or "", Balance(*(float(v or 0.0) for v in r[4:9])), r[0] in flagged)
            for r in found]
    return total, rows


def check_party(session: Session, batch: Batch) -> Optional[PlausibilityFlag]:
    """以产核标 across owners, when units or labels are issued under `batch`: flag its owner (once while open)
    when its GI-marked kilograms of the batch's harvest year exceed what its traced sources can supply."""
    if batch.harvest_year is None:
        return None
    product = session.get(Product, batch.product_id)
    balance = party_balance(session, product, batch.harvest_year, batch.producer_id)
    if not balance.excess:
        return None
    f = PlausibilityFlag.__table__
    already = session.execute(select(f.c.id).where(f.c.producer_id == batch.producer_id, f.c.kind == FLAG_KIND,
                                                   f.c.status == "open").limit(1)).first()
    if already is not None:
        return None
    return raise_flag(session, batch, FLAG_KIND, {
        "year": batch.harvest_year, "marked": round(balance.marked, 3), "supply": round(balance.supply, 3),
        "harvested": round(balance.harvested, 3), "received": round(balance.received_verified, 3)})
