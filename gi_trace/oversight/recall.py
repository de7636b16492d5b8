"""Recall export: everything upstream and downstream of a batch, one row per event (FSMA 204 style).

Uses the tracing area's lineage (`gi_trace.tracing.lineage.trace`, one recursive query each way),
then one query for the events of every batch reached. Each row carries what (batch, product form,
stage), how much (kg), when (local time with offset), where (town / place), who (producer, who
recorded), and the source and destination (parent / child batches, or the recipient).
"""
from __future__ import annotations

import json
from datetime import timezone
from typing import Any, Optional

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlmodel import Session

from gi_trace import formatting as fmt
from gi_trace import spreadsheets
from gi_trace.accounts.models import User
from gi_trace.errors import NotFound
from gi_trace.registry.models import Producer, Region
from gi_trace.tracing.lineage import trace
from gi_trace.tracing.models import Batch, BatchLink, Event
from gi_trace.tracing.rules import local_time
from gi_trace.tracing.services import can_see_batch
from gi_trace.tracing.units import find_code

COLUMNS = [
    ("direction", "Direction"), ("batch_code", "Batch code"), ("batch_kind", "Batch kind"),
    ("product_form", "Product form"), ("producer", "Producer"), ("producer_code", "Producer code"),
    ("seq", "Event no."), ("stage", "Stage"), ("occurred_at", "When (local time)"), ("town", "Where (town)"),
    ("place", "Where (place)"), ("quantity_kg", "Quantity (kg)"), ("source", "Source"),
    ("destination", "Destination"), ("key_data", "Key data"), ("recorded_by", "Recorded by"),
    ("recorded_at", "Recorded at"), ("corrects_event", "Corrects event no."), ("event_hash", "Event hash"),
]


def column_labels() -> list[str]:
    """Translated column headings, in COLUMNS order."""
    labels = {
        "direction": _("Direction"), "batch_code": _("Batch code"), "batch_kind": _("Batch kind"),
        "product_form": _("Product form"), "producer": _("Producer"), "producer_code": _("Producer code"),
        "seq": _("Event no."), "stage": _("Stage"), "occurred_at": _("When (local time)"),
        "town": _("Where (town)"), "place": _("Where (place)"), "quantity_kg": _("Quantity (kg)"),
        "source": _("Source"), "destination": _("Destination"), "key_data": _("Key data"),
        "recorded_by": _("Recorded by"), "recorded_at": _("Recorded at"),
        "corrects_event": _("Corrects event no."), "event_hash": _("Event hash"),
    }
    return [labels[key] for key, _label in COLUMNS]


def direction_label(direction: str) -> str:
    return {"upstream": _("upstream"), "batch": _("this batch"), "downstream": _("downstream")}.get(direction,
                                                                                                   direction)


def find_batch(session: Session, user: User, code: str):
    """The batch with this trace (or unit) code that the user may see, else NotFound."""
    batch, _unit = find_code(session, code)
    if not can_see_batch(user, batch, session.get(Producer, batch.producer_id)):
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    return batch


def _key_data(data: Any) -> str:
    if not data:
        return ""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return data
    return "; ".join(f"{k}={json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v}"
                     for k, v in sorted(data.items()))


def recall_rows(session: Session, batch) -> list[dict]:
    """One row per event of the batch and of every batch upstream and downstream of it."""
    up = trace(session, batch, "backward")
    down = trace(session, batch, "forward")
    direction = {nid: "upstream" for nid in up.nodes}
    direction.update({nid: "downstream" for nid in down.nodes})
    direction[batch.id] = "batch"
    ids = list(direction)
    b, e, link = Batch.__table__, Event.__table__, BatchLink.__table__
    batches = {row.id: row for row in session.execute(select(b).where(b.c.id.in_(ids))).all()}
    codes = {bid: row.code for bid, row in batches.items()}
    links = session.execute(select(link).where(or_(link.c.parent_id.in_(ids), link.c.child_id.in_(ids)))).all()
    missing = {lk.parent_id for lk in links} | {lk.child_id for lk in links}
    missing -= set(codes)
    if missing:
        codes.update(dict(session.execute(select(b.c.id, b.c.code).where(b.c.id.in_(missing))).all()))
    sources: dict[int, list[str]] = {}
    destinations: dict[int, list[str]] = {}
    for lk in links:
        if lk.event_id is not None:
            sources.setdefault(lk.event_id, []).append(f"{codes.get(lk.parent_id, lk.parent_id)}{fmt.paren(fmt.kg(lk.quantity_kg))}")
        if lk.parent_event_id is not None:
            destinations.setdefault(lk.parent_event_id, []).append(
                f"{codes.get(lk.child_id, lk.child_id)}{fmt.paren(fmt.kg(lk.quantity_kg))}")
    producer_ids = {row.producer_id for row in batches.values()}
    producers = {p.id: p for p in session.execute(select(Producer.__table__).where(
        Producer.__table__.c.id.in_(producer_ids))).all()} if producer_ids else {}
    towns = dict(session.execute(select(Region.code, Region.name_zh)).all())
    events = session.execute(select(e).where(e.c.batch_id.in_(ids)).order_by(e.c.batch_id, e.c.seq)).all()
    seq_of = {ev.id: ev.seq for ev in events}
    user_ids = {ev.recorded_by for ev in events if ev.recorded_by is not None}
    users = dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    rows = []
    for ev in events:
        bt = batches[ev.batch_id]
        producer = producers.get(bt.producer_id)
        data = ev.data if not isinstance(ev.data, str) else json.loads(ev.data)
        destination = list(destinations.get(ev.id, []))
        if ev.stage == "distribution" and data:
            to = " ".join(str(data.get(k, "")) for k in ("recipient", "destination") if data.get(k))
            if to:
                destination.append(to)
        when = ev.occurred_at if ev.occurred_at.tzinfo else ev.occurred_at.replace(tzinfo=timezone.utc)
        occurred = local_time(when, ev.utc_offset_min)
        rows.append({
            "direction": direction[ev.batch_id], "batch_code": bt.code, "batch_kind": bt.kind,
            "product_form": bt.product_form, "producer": producer.name if producer else "",
            "producer_code": (producer.uscc or producer.registry_no or "") if producer else "",
            "seq": ev.seq, "stage": ev.stage, "occurred_at": occurred.isoformat(timespec="minutes"),
            "town": towns.get(ev.location_town_code, ev.location_town_code or ""), "place": ev.location_name or "",
            "quantity_kg": ev.quantity_kg, "source": "; ".join(sources.get(ev.id, [])),
            "destination": "; ".join(destination), "key_data": _key_data(data),
            "recorded_by": users.get(ev.recorded_by, ""),
            "recorded_at": _utc(ev.recorded_at), "corrects_event": seq_of.get(ev.corrects_event_id, ""),
            "event_hash": ev.hash, "product_id": bt.product_id, "data": data if isinstance(data, dict) else {},
            "recorded_at_raw": ev.recorded_at,
        })
    order = {"upstream": 0, "batch": 1, "downstream": 2}
    rows.sort(key=lambda r: (order[r["direction"]], r["occurred_at"], r["batch_code"], r["seq"]))
    return rows


# Lineage bookkeeping in an event's data: the Source and Destination columns already say it.
_SYSTEM_KEYS = ("role", "from", "to", "inherited", "outputs")


def readable_rows(session: Session, rows: list[dict], locale: Optional[str] = None) -> list[dict]:
    """The recall rows as people read them (pages and files): codes through their labels, local dates
    and times in words, event data as labelled fields of the product's stage template."""
    from gi_trace.registry.models import Product

    ids = {row["product_id"] for row in rows}
    templates = {p.id: p.stage_template or [] for p in session.exec(select(Product).where(Product.id.in_(ids))).scalars()} \
        if ids else {}
    out = []
    for row in rows:
        template = templates.get(row["product_id"]) or []
        spec = next((s for s in template if s.get("stage") == row["stage"]), {})
        key_data = fmt.fields(row["data"], spec.get("fields", []), locale, skip=_SYSTEM_KEYS)
        sep = "：" if fmt.current_locale(locale) == "zh" else ": "
        out.append({
            **row,
            "direction": direction_label(row["direction"]),
            "batch_kind": fmt.label("batch_kind", row["batch_kind"], locale),
            "product_form": fmt.label("product_form", row["product_form"], locale),
            "stage": fmt.stage(template, row["stage"], locale),
            "occurred_at": fmt.moment(row["occurred_at"], locale),
            "key_data": "; ".join(f"{label}{sep}{text}" for label, text in key_data),
            "recorded_at": fmt.moment(row["recorded_at_raw"], locale, seconds=True),
        })
    return out


def _utc(value) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def to_csv(rows: list[dict], labels: Optional[list[str]] = None) -> bytes:
    """UTF-8 CSV with a BOM (so Excel shows Chinese) and a header row."""
    return spreadsheets.csv_bytes(labels or [key for key, _label in COLUMNS], _table(rows))


def to_xlsx(rows: list[dict], labels: Optional[list[str]] = None, title: str = "recall") -> bytes:
    """An XLSX workbook with a filterable, sortable table (auto-filter, frozen header)."""
    header = labels or [key for key, _label in COLUMNS]
    table = _table(rows)
    widths = [min(max(10, max([len(str(h))] + [len(str(r[i])) for r in table[:200]]) + 2), 60)
              for i, h in enumerate(header)]
    return spreadsheets.xlsx_bytes({title: (header, table)}, widths={title: widths})


def _table(rows: list[dict]) -> list[list]:
    return [[_cell(row[key]) for key, _label in COLUMNS] for row in rows]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 3000.0 reads "3000", in a CSV as in a spreadsheet
    return value  # the formula guard is the writer's (gi_trace.spreadsheets)
