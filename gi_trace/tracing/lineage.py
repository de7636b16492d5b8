"""Backward and forward traces over batch links with one recursive CTE (SQLite and PostgreSQL).

Backward: every source of a batch, down to its harvest batches, their plots and towns.
Forward: everything made from a batch (for a recall). Each trace is one query that walks the links
and returns every edge with the batch at its far end; plots are one more, optional, query.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import bindparam, text
from sqlmodel import Session

from gi_trace.tracing.models import Batch

# UNION (not UNION ALL) drops repeated edges, so diamonds (split then merge) are walked once.
_BACKWARD = text("""
WITH RECURSIVE walk(parent_id, child_id, quantity_kg, kind) AS (
    SELECT parent_id, child_id, quantity_kg, kind FROM batchlink WHERE child_id = :root
    UNION
    SELECT l.parent_id, l.child_id, l.quantity_kg, l.kind
    FROM batchlink l JOIN walk w ON l.child_id = w.parent_id
)
SELECT w.parent_id, w.child_id, w.quantity_kg, w.kind,
       b.id, b.code, b.kind, b.producer_id, b.product_form, b.quantity_kg, b.origin_town_code,
       b.harvest_year, b.withdrawn_at IS NOT NULL
FROM walk w JOIN batch b ON b.id = w.parent_id
""")

_FORWARD = text("""
WITH RECURSIVE walk(parent_id, child_id, quantity_kg, kind) AS (
    SELECT parent_id, child_id, quantity_kg, kind FROM batchlink WHERE parent_id = :root
    UNION
    SELECT l.parent_id, l.child_id, l.quantity_kg, l.kind
    FROM batchlink l JOIN walk w ON l.parent_id = w.child_id
)
SELECT w.parent_id, w.child_id, w.quantity_kg, w.kind,
       b.id, b.code, b.kind, b.producer_id, b.product_form, b.quantity_kg, b.origin_town_code,
       b.harvest_year, b.withdrawn_at IS NOT NULL
FROM walk w JOIN batch b ON b.id = w.child_id
""")

_HARVEST_PLOTS = text("""
SELECT e.batch_id, e.data, e.location_town_code FROM event e
WHERE e.stage = 'harvest' AND e.batch_id IN :ids
""").bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True)
class Node:
    """A batch in a trace."""

    id: int
    code: str
    kind: str
    producer_id: int
    product_form: str
    quantity_kg: float
    origin_town_code: Optional[str]
    harvest_year: Optional[int]
    withdrawn: bool


@dataclass(frozen=True)
class Edge:
    parent_id: int
    child_id: int
    quantity_kg: float
    kind: str


@dataclass
class Trace:
    """A trace from a root batch: the batches reached (root excluded) and the links walked."""

    root: Node
    direction: str
    nodes: dict[int, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    plots: dict[int, list[dict]] = field(default_factory=dict)  # harvest batch id -> [{plot_id, town_code}]

    @property
    def codes(self) -> set[str]:
        return {n.code for n in self.nodes.values()}

    def harvest_batches(self) -> list[Node]:
        """The harvest batches reached (for a backward trace: where the goji was picked)."""
        nodes = list(self.nodes.values())
        if self.root.kind == "harvest":
            nodes.append(self.root)
        return sorted((n for n in nodes if n.kind == "harvest"), key=lambda n: n.id)

    def towns(self) -> list[str]:
        """Origin towns of the harvest batches reached."""
        return sorted({n.origin_town_code for n in self.harvest_batches() if n.origin_town_code})


def _node(batch: Batch) -> Node:
    return Node(batch.id, batch.code, batch.kind, batch.producer_id, batch.product_form, batch.quantity_kg,
                batch.origin_town_code, batch.harvest_year, batch.withdrawn_at is not None)


def trace(session: Session, batch: Batch, direction: str = "backward", *, with_plots: bool = False) -> Trace:
    """Everything upstream (backward) or downstream (forward) of a batch, from one recursive query."""
    if direction not in ("backward", "forward"):
        raise ValueError(direction)
    result = Trace(_node(batch), direction)
    rows = session.connection().execute(_BACKWARD if direction == "backward" else _FORWARD, {"root": batch.id})
    nodes = result.nodes
    edges = result.edges
    for parent_id, child_id, qty, kind, nid, code, nkind, producer_id, form, nqty, town, year, withdrawn in rows:
        edges.append(Edge(parent_id, child_id, qty, kind))
        if nid not in nodes:
            nodes[nid] = Node(nid, code, nkind, producer_id, form, nqty, town, year, bool(withdrawn))
    if with_plots:
        harvest_ids = [n.id for n in result.harvest_batches()]
        if harvest_ids:
            result.plots = harvest_plots(session, harvest_ids)
    return result


def harvest_plots(session: Session, batch_ids: list[int]) -> dict[int, list[dict]]:
    """The plots and towns each harvest batch was picked from."""
    import json

    plots: dict[int, list[dict]] = {}
    for batch_id, data, town in session.connection().execute(_HARVEST_PLOTS, {"ids": batch_ids}):
        if isinstance(data, str):
            data = json.loads(data)
        entry = {"plot_id": (data or {}).get("plot_id"), "town_code": town}
        if entry not in plots.setdefault(batch_id, []):
            plots[batch_id].append(entry)
    return plots
