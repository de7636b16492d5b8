"""Where a batch's kilograms come from, as far as the GI mark is concerned (以产核标 across owners).

A batch may carry the GI mark only when every kilogram of it traces back to harvests in the product's
protected towns recorded by registered producers. A harvest batch answers from its own harvest town; every
other batch keeps the answer in `Batch.origin_state` / `origin_break_code`, set once when it is made from
its parents (split, merge, processing, receipt of a shipment, purchase): kilograms never change origin
after they are in a batch, so the scan page reads two columns instead of walking the lineage.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from flask_babel import gettext as _
from sqlmodel import Session

from gi_trace.tracing import lineage
from gi_trace.tracing.models import Batch

VERIFIED, DECLARED, OUTSIDE = "verified", "declared", "outside"


@dataclass(frozen=True)
class Origin:
    """A batch's origin for the GI mark: verified, or the state and the source batch that breaks it."""

    state: str  # VERIFIED, DECLARED or OUTSIDE
    break_code: Optional[str] = None

    @property
    def verified(self) -> bool:
        return self.state == VERIFIED


def of_harvest(code: str, town_code: Optional[str], protected: set[str]) -> Origin:
    """A harvest batch: verified when it was picked in one of the product's protected towns."""
    if town_code and town_code in protected:
        return Origin(VERIFIED)
    return Origin(OUTSIDE, code)


def combine(parents: Iterable[Origin]) -> Origin:
    """A batch made from parents: verified only when every parent is; else the first parent's break."""
    for parent in parents:
        if not parent.verified:
            return parent
    return Origin(VERIFIED)


def stored(batch: Batch) -> Optional[Origin]:
    """The origin kept on a made batch, or None for a harvest batch (or one from before it was kept)."""
    if batch.origin_state in (VERIFIED, DECLARED, OUTSIDE):
        return Origin(batch.origin_state, batch.origin_break_code)
    return None


def origin_of(session: Session, batch: Batch, protected: set[str]) -> Origin:
    """The batch's origin: its harvest town, the stored projection, or (older batches) a backward walk."""
    if batch.kind == "harvest":
        return of_harvest(batch.code, batch.origin_town_code, protected)
    kept = stored(batch)
    if kept is not None:
        return kept
    found = lineage.trace(session, batch, "backward")
    sources = [n for n in found.nodes.values() if n.kind in ("harvest", "purchased")]
    if not sources:
        return Origin(OUTSIDE, batch.code)
    for node in sorted(sources, key=lambda n: n.id):
        if node.kind == "purchased":
            return Origin(DECLARED, node.code)
        if not of_harvest(node.code, node.origin_town_code, protected).verified:
            return Origin(OUTSIDE, node.code)
    return Origin(VERIFIED)


def keep(batch: Batch, origin: Origin) -> None:
    """Store a made batch's origin (only when it is made)."""
    batch.origin_state = origin.state
    batch.origin_break_code = origin.break_code if not origin.verified else None


def reason(origin: Origin, own_code: str) -> str:
    """Why a batch of this origin may not carry the GI mark, in plain words (empty when it may)."""
    if origin.verified:
        return ""
    if origin.state == DECLARED:
        if origin.break_code == own_code:
            return _("Bought from an unregistered seller: its origin is declared, not verified, so it cannot carry "
                     "the GI mark.")
        return _("Part of it (source batch %(code)s) was bought from an unregistered seller: its origin is "
                 "declared, not verified, so it cannot carry the GI mark.", code=origin.break_code)
    if origin.break_code == own_code:
        return _("It was not harvested in the product's protected towns, so it cannot carry the GI mark.")
    return _("Part of it (source batch %(code)s) was not harvested in the product's protected towns, so it cannot "
             "carry the GI mark.", code=origin.break_code)
