"""Inputs per plot and season (施肥, 用药): recording them, the banned-substance refusal, and the safety
interval (安全间隔期) that keeps a harvest off a plot until the last application's interval has passed.

Records are evidence: never updated or deleted; a correction is a new record that supersedes one
(`PlotInput.supersedes_id`). A new record changes what the public page of every batch picked from that
plot in that season shows, so those batches are noted (`chain.touch`) and their stored pages rebuilt.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import func
from sqlmodel import Session, select

from gi_trace import formatting as fmt
from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, NotFound, Refused, ValidationError
from gi_trace.registry import limits
from gi_trace.registry.models import Plot, Producer, ProducerProduct, Product
from gi_trace.registry.services import can_see_producer
from gi_trace.timeutil import local_today
from gi_trace.tracing import chain, rules
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.models_inputs import INPUT_KINDS, PlotInput
from gi_trace.tracing.services.flags import raise_flag
from gi_trace.tracing.services.visibility import MAX_ID
from gi_trace.types import utcnow

# The banned list is the product's, in its limits a regulator keeps (registry.limits, the version in force on
# the day of the application). Only a product without any limits version falls back to this demo list:
# substances of China's 禁限用农药名录 banned outright or banned on fruit, tea and medicinal herbs (goji is all
# three). Demo values: check them against the list in force.
DEFAULT_BANNED_SUBSTANCES = (
    "六六六", "滴滴涕", "毒杀芬", "二溴氯丙烷", "杀虫脒", "二溴乙烷", "除草醚", "艾氏剂", "狄氏剂", "汞制剂",
    "砷", "铅", "敌枯双", "氟乙酰胺", "甘氟", "毒鼠强", "氟乙酸钠", "毒鼠硅", "甲胺磷", "甲基对硫磷", "对硫磷",
    "久效磷", "磷胺", "苯线磷", "地虫硫磷", "甲基硫环磷", "磷化钙", "磷化镁", "磷化锌", "硫线磷", "蝇毒磷",
    "治螟磷", "特丁硫磷", "氯磺隆", "胺苯磺隆", "甲磺隆", "福美胂", "福美甲胂", "三氯杀螨醇", "林丹", "硫丹",
    "溴甲烷", "氟虫胺", "杀扑磷", "百草枯", "2,4-滴丁酯", "甲拌磷", "甲基异柳磷", "克百威", "水胺硫磷",
    "氧乐果", "灭多威", "涕灭威", "灭线磷", "内吸磷", "硫环磷", "氯唑磷", "乙酰甲胺磷", "丁硫克百威", "乐果",
)
# 农药登记证号: PD (正式登记), WP (卫生用), LS (临时), with an N for the new series, then digits.
REGISTRATION_NO = re.compile(r"^(PD|PDN|WP|WPN|WL|WLN|LS|LSN)\d{5,9}$")
MAX_INTERVAL_DAYS = 365
TEXT_LIMITS = {"product_name": 200, "registration_no": 32, "active_ingredient": 200, "dose": 100,
               "applied_by": 100, "correction_reason": 1000}


@dataclass
class InputData:
    """An input application as given by the portal or the API (checked by `record_input`)."""

    kind: Any
    product_name: Any
    applied_on: Any
    registration_no: Any = ""
    active_ingredient: Any = ""
    dose: Any = ""
    safety_interval_days: Any = None
    applied_by: Any = ""
    supersedes: Optional[int] = None
    correction_reason: Any = ""


# --- plots ---------------------------------------------------------------------------------

def own_plots(session: Session, user: Optional[User]) -> list[Plot]:
    """The plots of the user's own business (none for anyone else)."""
    if user is None or user.role != "producer" or user.producer_id is None:
        return []
    return list(session.exec(select(Plot).where(Plot.producer_id == user.producer_id).order_by(Plot.id)).all())


def own_plot(session: Session, user: Optional[User], plot_id: Any) -> Plot:
    """One of the user's own plots; any other plot is NotFound (its existence is not revealed)."""
    plot = session.get(Plot, plot_id) if isinstance(plot_id, int) and 0 < plot_id <= MAX_ID else None
    if plot is None or user is None or user.role != "producer" or plot.producer_id != user.producer_id:
        raise NotFound(_("No such plot among your plots."), field="plot_id")
    return plot


def visible_plot(session: Session, user: Optional[User], plot_id: Any) -> Plot:
    """A plot whose records the user may read: a producer its own, a regulator those of producers in its county
    (a city regulator and an admin every one); any other plot is NotFound."""
    plot = session.get(Plot, plot_id) if isinstance(plot_id, int) and 0 < plot_id <= MAX_ID else None
    if plot is not None and user is not None:
        if user.role == "producer" and plot.producer_id == user.producer_id:
            return plot
        if user.role in ("regulator", "admin") and can_see_producer(user, session.get(Producer, plot.producer_id)):
            return plot
    raise NotFound(_("No such plot among your plots."), field="plot_id")


# --- banned substances -----------------------------------------------------------------------

def banned_substances(session: Session, product: Optional[Product], day: Optional[date] = None) -> list[str]:
    """The substances refused on a product's plots on a day: the product's limits in force, else the default."""
    if product is None:
        return list(DEFAULT_BANNED_SUBSTANCES)
    version = limits.pick(limits.history(session, product), day or local_today())
    if version is None:
        return list(DEFAULT_BANNED_SUBSTANCES)
    names = []
    for item in version.banned_substances or []:
        if isinstance(item, dict):
            item = item.get("substance") or item.get("name") or ""
        if isinstance(item, str) and item.strip():
            names.append(item.strip())
    return names


def _plot_products(session: Session, plot: Plot) -> list[Product]:
    ids = session.exec(select(ProducerProduct.product_id).where(ProducerProduct.producer_id == plot.producer_id)).all()
    if not ids:
        return []
    return list(session.exec(select(Product).where(Product.id.in_(ids))).all())


def banned_match(session: Session, plot: Plot, day: date, *texts: str) -> Optional[str]:
    """The banned substance named in any of the texts (product name, active ingredient), if any: banned for any
    product the plot's producer is registered for, on the day of the application."""
    products = _plot_products(session, plot) or [None]
    keys = [_key(t) for t in texts if t]
    for product in products:
        for substance in banned_substances(session, product, day):
            needle = _key(substance)
            if needle and any(_names(text, needle) for text in keys):
                return substance
    return None


def _key(name: str) -> str:
    # As tracing.quality compares substances: without case and spaces.
    return "".join(str(name).split()).casefold()


def _names(text: str, substance: str) -> bool:
    # "乐果" is a banned name but also the tail of "氧乐果"; both are on the list, so a plain substring
    # test is right for Chinese names. Latin names must match whole words ("lindane", not "xlindanex").
    if substance.isascii():
        return re.search(r"(?<![a-z0-9])" + re.escape(substance) + r"(?![a-z0-9])", text) is not None
    return substance in text


# --- recording -------------------------------------------------------------------------------

def _text(value: Any, name: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    text = rules._text(value, name)
    if len(text) > TEXT_LIMITS[name]:
        raise ValidationError(_("%(field)s is longer than %(n)s characters.", field=name, n=TEXT_LIMITS[name]),
                              field=name)
    if required and not text:
        raise ValidationError(_("%(field)s is required.", field=name), field=name)
    return text


def _applied_on(value: Any) -> date:
    if isinstance(value, date):
        day = value
    else:
        day = date.fromisoformat(rules._date(value, "applied_on")) if value not in (None, "") else None
    if day is None:
        raise ValidationError(_("%(field)s is required.", field="applied_on"), field="applied_on")
    if day > local_today():
        raise Refused(_("The application is dated in the future (%(day)s); record it once it has happened.",
                        day=fmt.day(day)), field="applied_on", code="future")
    if day.year < rules.MIN_EVENT_YEAR:
        raise ValidationError(_("%(field)s must be a date (YYYY-MM-DD).", field="applied_on"), field="applied_on")
    return day


def _interval(value: Any, kind: str) -> Optional[int]:
    if value is None or value == "":
        if kind == "pesticide":
            raise ValidationError(_("Give the safety interval (安全间隔期) in days printed on the pesticide's label."),
                                  field="safety_interval_days")
        return None
    days = rules._number(value, "safety_interval_days", integer=True)
    if days > MAX_INTERVAL_DAYS:
        raise ValidationError(_("The safety interval cannot be longer than %(n)s days.", n=MAX_INTERVAL_DAYS),
                              field="safety_interval_days")
    return int(days)


def record_input(session: Session, user: User, plot: Plot, data: InputData) -> PlotInput:
    """Record an input applied on one of the user's plots (or a correction of an earlier record)."""
    if plot.producer_id != getattr(user, "producer_id", None):
        raise NotFound(_("No such plot among your plots."), field="plot_id")
    if data.kind not in INPUT_KINDS:
        raise ValidationError(_("kind must be one of: %(values)s.", values=", ".join(INPUT_KINDS)), field="kind")
    kind = data.kind
    product_name = _text(data.product_name, "product_name", required=True)
    registration_no = _text(data.registration_no, "registration_no").upper().replace(" ", "")
    active = _text(data.active_ingredient, "active_ingredient", required=kind == "pesticide")
    dose = _text(data.dose, "dose", required=True)
    applied_by = _text(data.applied_by, "applied_by")
    if kind == "pesticide":
        if not registration_no:
            raise ValidationError(_("Give the pesticide registration number (农药登记证号), e.g. PD20080001."),
                                  field="registration_no")
        if not REGISTRATION_NO.match(registration_no):
            raise ValidationError(_("A pesticide registration number looks like PD20080001 (PD, WP or LS and "
                                    "digits)."), field="registration_no")
    applied_on = _applied_on(data.applied_on)
    interval = _interval(data.safety_interval_days, kind)
    substance = banned_match(session, plot, applied_on, product_name, active)
    if substance is not None:
        raise Refused(_("%(substance)s is a banned substance on this product; it may not be used.",
                        substance=substance),
                      field="active_ingredient" if _key(substance) in _key(active) else "product_name",
                      code="banned_substance")
    superseded = _superseded(session, plot, data)
    record = PlotInput(
        plot_id=plot.id, season=applied_on.year, kind=kind, product_name=product_name,
        registration_no=registration_no, active_ingredient=active, dose=dose, applied_on=applied_on,
        safety_interval_days=interval, applied_by=applied_by, recorded_by=user.id, recorded_at=utcnow(),
        supersedes_id=superseded.id if superseded else None,
        correction_reason=_text(data.correction_reason, "correction_reason") if superseded else "")
    session.add(record)
    session.flush()
    seasons = {record.season} | ({superseded.season} if superseded else set())
    touch_harvests(session, plot, seasons)
    flag_earlier_harvests(session, plot, record)
    return record


def flag_earlier_harvests(session: Session, plot: Plot, record: PlotInput) -> list[int]:
    """A record that arrives after the fact may show that a harvest already recorded on the plot fell inside its
    safety interval: the harvest stands (it is evidence) and its batch is flagged for a regulator's review."""
    allowed = earliest_harvest(record)
    if allowed is None:
        return []
    seasons = {record.applied_on.year, allowed.year}
    rows = session.exec(select(Event).join(Batch, Batch.id == Event.batch_id).where(
        Batch.producer_id == plot.producer_id, Batch.kind == "harvest", Batch.harvest_year.in_(seasons),
        Event.stage == "harvest")).all()
    corrected = {e.corrects_event_id for e in rows if e.corrects_event_id}
    flagged = []
    for event in rows:
        data = event.data if isinstance(event.data, dict) else {}
        day = rules.local_time(event.occurred_at, event.utc_offset_min).date()
        if event.id in corrected or data.get("plot_id") != plot.id or not record.applied_on <= day < allowed:
            continue
        batch = session.get(Batch, event.batch_id)
        flag = raise_flag(session, batch, "inside_safety_interval", {
            "day": day.isoformat(), "product": record.product_name, "applied": record.applied_on.isoformat(),
            "days": record.safety_interval_days, "allowed": allowed.isoformat(), "input_id": record.id}, event=event)
        if flag is not None:
            flagged.append(batch.id)
    return flagged


def _superseded(session: Session, plot: Plot, data: InputData) -> Optional[PlotInput]:
    if data.supersedes is None:
        return None
    target = session.get(PlotInput, data.supersedes) if isinstance(data.supersedes, int) \
        and 0 < data.supersedes <= MAX_ID else None
    if target is None or target.plot_id != plot.id:
        raise ValidationError(_("Record %(id)s is not an input of this plot.", id=data.supersedes), field="supersedes")
    if not isinstance(data.correction_reason, str) or not data.correction_reason.strip():
        raise ValidationError(_("Say why the earlier record is corrected."), field="correction_reason")
    # Lock the record corrected so two corrections of it cannot both commit (the unique index backs this up).
    if session.exec(select(PlotInput.id).where(PlotInput.supersedes_id == target.id)).first() is not None:
        raise Conflict(_("Record %(id)s has already been corrected; correct the latest record instead.",
                         id=target.id), field="supersedes")
    return target


# --- reading -------------------------------------------------------------------------------

def superseded_ids(session: Session, plot_ids: Iterable[int]) -> set[int]:
    ids = list(set(plot_ids))
    if not ids:
        return set()
    rows = session.exec(select(PlotInput.supersedes_id).where(PlotInput.plot_id.in_(ids),
                                                             PlotInput.supersedes_id.is_not(None))).all()
    return set(rows)


def inputs_of(session: Session, plot: Plot, season: Optional[int] = None, *,
              include_superseded: bool = False) -> list[PlotInput]:
    """A plot's input records (of one season), newest application first; corrected ones left out by default."""
    query = select(PlotInput).where(PlotInput.plot_id == plot.id)
    if season is not None:
        query = query.where(PlotInput.season == season)
    rows = list(session.exec(query.order_by(PlotInput.applied_on.desc(), PlotInput.id.desc())).all())
    if include_superseded:
        return rows
    gone = {r.supersedes_id for r in rows if r.supersedes_id} | superseded_ids(session, [plot.id])
    return [r for r in rows if r.id not in gone]


def seasons_of(session: Session, plot: Plot) -> list[int]:
    """The seasons with records on a plot, newest first."""
    return sorted(set(session.exec(select(PlotInput.season).where(PlotInput.plot_id == plot.id)).all()), reverse=True)


def effective_inputs(session: Session, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[PlotInput]]:
    """The effective records of each (plot id, season), applications in date order: one query."""
    pairs = set(pairs)
    if not pairs:
        return {}
    plot_ids = {p for p, _s in pairs}
    seasons = {s for _p, s in pairs}
    rows = list(session.exec(select(PlotInput).where(PlotInput.plot_id.in_(plot_ids), PlotInput.season.in_(seasons))
                             .order_by(PlotInput.applied_on, PlotInput.id)).all())
    gone = {r.supersedes_id for r in rows if r.supersedes_id} | superseded_ids(session, plot_ids)
    out: dict[tuple[int, int], list[PlotInput]] = {pair: [] for pair in pairs}
    for r in rows:
        if r.id not in gone and (r.plot_id, r.season) in out:
            out[(r.plot_id, r.season)].append(r)
    return out


def earliest_harvest(record: PlotInput) -> Optional[date]:
    """The first day a harvest from the plot is allowed after this application (None: no interval)."""
    if not record.safety_interval_days:
        return None
    return record.applied_on + timedelta(days=record.safety_interval_days)


# --- the safety interval at harvest ---------------------------------------------------------------

def check_harvest(session: Session, plot: Plot, harvest_day: date) -> None:
    """Refuse a harvest from the plot inside the safety interval of any application on it, naming the
    application and the earliest allowed date."""
    since = harvest_day - timedelta(days=MAX_INTERVAL_DAYS)
    rows = list(session.exec(select(PlotInput).where(
        PlotInput.plot_id == plot.id, PlotInput.applied_on <= harvest_day, PlotInput.applied_on >= since,
        PlotInput.safety_interval_days > 0)).all())
    if not rows:
        return
    gone = superseded_ids(session, [plot.id])
    blocking = [r for r in rows if r.id not in gone and earliest_harvest(r) > harvest_day]
    if not blocking:
        return
    worst = max(blocking, key=lambda r: (earliest_harvest(r), r.id))
    allowed = earliest_harvest(worst)
    raise Refused(_("Harvest refused: %(product)s (%(ingredient)s) was applied on this plot on %(applied)s with a "
                    "safety interval of %(days)s; the earliest allowed harvest date is %(allowed)s.",
                    product=worst.product_name, ingredient=worst.active_ingredient or worst.registration_no or "—",
                    applied=fmt.day(worst.applied_on), days=fmt.days(worst.safety_interval_days),
                    allowed=fmt.day(allowed)),
                  field="occurred_at", code="safety_interval", input_id=worst.id, earliest_allowed=allowed.isoformat())


# --- which batches a plot's record reaches -----------------------------------------------------

def harvest_batches_of(session: Session, plot: Plot, seasons: Iterable[int]) -> list[int]:
    """Ids of the harvest batches picked from the plot in these seasons (from their harvest events)."""
    seasons = set(seasons)
    rows = session.exec(select(Event.batch_id, Event.data).join(Batch, Batch.id == Event.batch_id).where(
        Batch.producer_id == plot.producer_id, Batch.kind == "harvest", Batch.harvest_year.in_(seasons),
        Event.stage == "harvest")).all()
    found = set()
    for batch_id, data in rows:
        if isinstance(data, str):
            data = json.loads(data)
        if isinstance(data, dict) and data.get("plot_id") == plot.id:
            found.add(batch_id)
    return sorted(found)


def touch_harvests(session: Session, plot: Plot, seasons: Iterable[int]) -> None:
    """Note the harvest batches of the plot's seasons as changed: their public pages (and those of every batch
    made from them) show the plot's inputs, so they are rebuilt when the transaction commits."""
    for batch_id in harvest_batches_of(session, plot, seasons):
        chain.touch(session, batch_id)


def plots_behind(session: Session, harvest_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    """For harvest batches: the (plot id, season) pairs of their harvest events that stand (not corrected)."""
    ids = sorted(set(harvest_ids))
    if not ids:
        return {}
    events = session.exec(select(Event.id, Event.batch_id, Event.data, Event.occurred_at, Event.utc_offset_min,
                                 Event.corrects_event_id)
                          .where(Event.batch_id.in_(ids), Event.stage == "harvest")).all()
    corrected = {e[5] for e in events if e[5]}
    out: dict[int, list[tuple[int, int]]] = {}
    for event_id, batch_id, data, occurred_at, offset, _corrects in events:
        if event_id in corrected:
            continue
        if isinstance(data, str):
            data = json.loads(data)
        plot_id = data.get("plot_id") if isinstance(data, dict) else None
        if not isinstance(plot_id, int):
            continue
        pair = (plot_id, rules.local_time(occurred_at, offset).year)
        found = out.setdefault(batch_id, [])
        if pair not in found:
            found.append(pair)
    return out


def count_inputs(session: Session, plot_ids: Iterable[int]) -> dict[int, int]:
    """How many records each plot has (all seasons, corrections included)."""
    ids = list(set(plot_ids))
    if not ids:
        return {}
    rows = session.exec(select(PlotInput.plot_id, func.count()).where(PlotInput.plot_id.in_(ids))
                        .group_by(PlotInput.plot_id)).all()
    return {p: n for p, n in rows}
