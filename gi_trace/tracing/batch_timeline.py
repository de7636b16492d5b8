"""The timeline of a batch's own page (owner and regulators): each event with its stage in words, its facts as
labelled fields, the parties a hand-over went to or came from by name, and the batches it links to."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import Session, or_, select

from gi_trace import formatting as fmt
from gi_trace.registry.models import Plot, Producer, Region
from gi_trace.tracing import codes, quality
from gi_trace.tracing import portal_forms as pf
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.services.visibility import can_see_batch


def town_names(session: Session) -> dict[str, str]:
    english = pf.english()
    return {r.code: (r.name_en if english else r.name_zh) or r.name_zh
            for r in session.exec(select(Region).where(Region.level == "town")).all()}


def plot_label(plot: Plot, towns: dict[str, str]) -> str:
    """A plot as its owner knows it: its name, else its town and area ("宁安镇 · 20亩")."""
    area = fmt.number(plot.area_mu)
    where = towns.get(plot.town_code, plot.town_code)
    size = f"{area} mu" if pf.english() else f"{area}亩"
    return f"{plot.name} · {where} · {size}" if plot.name else f"{where} · {size}"


def system_stage(stage: str) -> str:
    """The name of an event no stage template defines: lineage operations, hand-overs, recalls, clearances."""
    return {"split": _("Split"), "merge": _("Merge"), "withdrawal": _("Withdrawal"),
            "clearance": _("Regulator's clearance of a test failure"), "shipping": _("Shipped"),
            "delivery": _("Received by the buyer"), "receiving": _("Received from the seller"),
            "return": _("Refused by the buyer, back in stock"), "purchase": _("Bought at the market")}.get(stage, stage)


# Hand-overs: which key of the event's data holds the other party's code (USCC or registry number), and how
# the page calls that party.
_COUNTERPART = {"shipping": ("to", "receiver"), "delivery": ("to", "receiver"), "return": ("to", "receiver"),
                "receiving": ("from", "sender"), "purchase": ("seller", "seller")}


def event_rows(session: Session, batch: Batch, template: list) -> list[dict]:
    """The batch's events, oldest first, as the page shows them."""
    events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
    stage_specs = {s["stage"]: s for s in template}
    corrected = {e.corrects_event_id for e in events if e.corrects_event_id}
    towns = town_names(session)
    plot_names = {p.id: plot_label(p, towns)
                  for p in session.exec(select(Plot).where(Plot.producer_id == batch.producer_id)).all()}
    parties = _party_names(session, [e.data.get(_COUNTERPART[e.stage][0]) for e in events
                                     if e.stage in _COUNTERPART and isinstance(e.data, dict)])
    rows = []
    for e in events:
        spec = stage_specs.get(e.stage)
        data = e.data if isinstance(e.data, dict) else {}
        role = data.get("role")
        specs = (spec or {}).get("fields", [])
        facts = [(fmt.field_label(f), plot_names.get(data[f["name"]], "—"))
                 for f in specs if f["type"] == "plot" and data.get(f["name"]) is not None]
        facts += fmt.fields(data, specs, skip=[(spec or {}).get("quantity_field")])
        if e.stage == "testing" and not role:
            facts = verdict_facts(data, facts, specs)
        elif e.stage == "clearance":
            facts = [(_("Reason"), data.get("reason") or "—"), (_("New report number"), data.get("report_no") or "—")]
            if data.get("sources"):
                facts.append((_("Failed source batches"), ", ".join(codes.display(c) for c in data["sources"])))
        elif e.stage in _COUNTERPART:
            facts = _hand_over_facts(e.stage, data, parties, towns) + facts
        rows.append({"event": e, "name": pf.stage_name(spec) if spec else system_stage(e.stage), "facts": facts,
                     "role": role, "links": _linked_codes(data), "superseded": e.id in corrected,
                     "onward": role in ("input", "delivered")})
    return rows


def _linked_codes(data: dict) -> list[str]:
    """The batch codes an event names: what a split/merge/processing made or took, and a hand-over's other batch."""
    found = []
    if isinstance(data.get("to"), list):
        found += data["to"]
    if isinstance(data.get("from"), list):
        found += [s.get("code") for s in data["from"] if isinstance(s, dict)]
    found += [data.get("from_batch"), data.get("to_batch")]
    return [c for c in found if isinstance(c, str) and c]


def _party_names(session: Session, party_codes: list) -> dict[str, str]:
    wanted = {c for c in party_codes if isinstance(c, str) and c}
    if not wanted:
        return {}
    rows = session.exec(select(Producer).where(or_(Producer.uscc.in_(wanted), Producer.registry_no.in_(wanted)))).all()
    return {p.code: p.name for p in rows}


def _hand_over_facts(stage: str, data: dict, parties: dict[str, str], towns: dict[str, str]) -> list:
    key, who = _COUNTERPART[stage]
    label = {"receiver": _("Receiver"), "sender": _("Sender"), "seller": _("Seller")}[who]
    code = data.get(key)
    if stage == "purchase" and not code:
        facts = [(label, _("Grower not on the register (origin declared)"))]
        town = towns.get(data.get("declared_town_code"))
        return facts + ([(_("Origin town"), town)] if town else [])
    facts = [(label, parties.get(code) or code or "—")]
    if data.get("document_no"):
        facts.append((_("Waybill or invoice number"), data["document_no"]))
    if stage == "return" and data.get("reason"):
        facts.append((_("Reason"), data["reason"]))
    return facts


def linkable(session: Session, user, rows: list[dict], others: list[Batch]) -> set[str]:
    """The codes among the timeline's links and the lineage's batches (`others`) whose page the reader may open:
    another owner's batch is shown as its code, never as a link to a page that says it is not there."""
    wanted = {c for row in rows for c in row["links"]} | {b.code for b in others}
    if not wanted:
        return set()
    found = session.exec(select(Batch, Producer).join(Producer, Producer.id == Batch.producer_id)
                         .where(Batch.code.in_(wanted))).all()
    return {b.code for b, p in found if can_see_batch(user, b, p)}


def verdict_facts(data: dict, facts: list, specs: list) -> list:
    """A test's facts with the computed verdict first; the lab's conclusion, when it disagrees, says so beside it."""
    outcome = quality.evaluate(data)
    why = [quality.failure_text(f) for f in outcome.failures]
    if outcome.ungraded:
        why.append(quality.ungraded_text(outcome.grains_per_50g, outcome.lowest_grade_max))
    verdict = quality.state_label(outcome.state) + (f" ({'; '.join(why)})" if why else "")
    if outcome.legacy:
        verdict = _("not judged: an older test without measured values")
    shown = [(_("Computed verdict"), verdict)]
    if outcome.lab_disagrees:
        label = next((fmt.field_label(f) for f in specs if f["name"] == "lab_verdict"), "lab_verdict")
        shown_lab = dict(facts).get(label, "")
        facts = [(k, v) for k, v in facts if k != label]
        shown.append((label, f"{shown_lab} — {quality.lab_disagreement_text(outcome)}"))
    return shown + facts
