"""The pure rules of the two shares: tallies and official totals to a result, and a reference
tally from plain facts (no database)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable, Optional, Sequence

from gi_trace.authorisation import rules

REGISTER = "register"
OFFICIAL = "official"
PROTECTED_AREA = "protected_area"  # what an official total counts (SectorTotal.scope)
WHOLE_SECTOR = "whole_sector"
FIRST_YEAR = 2000

# Why a producer counts or does not (drill-down).
COUNTS = "counts"
OUTSIDE_TOWNS = "outside_towns"
NO_AUTHORISATION = "no_authorisation"
PENDING = "pending"
REJECTED = "rejected"
SUSPENDED = "suspended"
REVOKED = "revoked"
EXPIRED = "expired"
NO_OUTPUT = "no_output"
_STATE_REASON = {
    rules.NONE: NO_AUTHORISATION,
    rules.PENDING: PENDING,
    rules.REJECTED: REJECTED,
    rules.SUSPENDED: SUSPENDED,
    rules.REVOKED: REVOKED,
    rules.EXPIRED: EXPIRED,
}


@dataclass
class Tally:
    """What the register says about one area: producers of the region, authorised users, output values."""

    producers: int = 0
    authorised: int = 0
    output_value: float = 0.0
    output_value_authorised: float = 0.0
    # Authorised at any time in the year (up to the as-of date), not only on the date.
    authorised_in_year: int = 0
    output_value_authorised_in_year: float = 0.0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.producers + other.producers, self.authorised + other.authorised,
                     self.output_value + other.output_value,
                     self.output_value_authorised + other.output_value_authorised,
                     self.authorised_in_year + other.authorised_in_year,
                     self.output_value_authorised_in_year + other.output_value_authorised_in_year)


@dataclass(frozen=True)
class Official:
    """An official sector total for one area (either figure may be missing)."""

    producers_total: Optional[int] = None
    output_value: Optional[float] = None
    source: str = ""
    scope: str = "protected_area"


def share(numerator: float, denominator: Optional[float]) -> Optional[float]:
    """A fraction rounded to 4 places; None when there is nothing to divide by."""
    if not denominator or denominator <= 0:
        return None
    return round(numerator / denominator, 4)


def meets(value: Optional[float], target: float) -> bool:
    """A share meets the target when its rounded value reaches it (what is shown is what is judged)."""
    return value is not None and value >= round(target, 4)


def default_as_of(year: int, today: date) -> date:
    """31 December of the year, or today while that year is still running."""
    return min(date(year, 12, 31), today)


def area_figures(tally: Tally, official: Optional[Official], target: float) -> dict:
    """The shares of one area from its register tally and its official total, if any."""
    official = official or Official()
    stated = {"kind": OFFICIAL, "source": official.source, "scope": official.scope}
    register = {"kind": REGISTER, "source": "", "scope": PROTECTED_AREA}
    if official.producers_total is not None:
        producers_total, producers_src = official.producers_total, stated
    else:
        producers_total, producers_src = tally.producers, register
    if official.output_value is not None:
        output_total, output_src = float(official.output_value), stated
    else:
        output_total, output_src = tally.output_value, register
    user_share = share(tally.authorised, producers_total)
    output_share = share(tally.output_value_authorised, output_total)
    return {
        "producers_registered": tally.producers,
        "producers_total": producers_total,
        "producers_authorised": tally.authorised,
        "user_share": user_share,
        "output_value_registered": round(tally.output_value, 2),
        "output_value_total": round(output_total, 2),
        "output_value_authorised": round(tally.output_value_authorised, 2),
        "output_share": output_share,
        "target": round(target, 4),
        "user_share_met": meets(user_share, target),
        "output_share_met": meets(output_share, target),
        "denominator_source": {"producers": producers_src, "output_value": output_src},
        # Counting every user authorised at any time in the year (same denominators).
        "producers_authorised_in_year": tally.authorised_in_year,
        "user_share_in_year": share(tally.authorised_in_year, producers_total),
        "output_value_authorised_in_year": round(tally.output_value_authorised_in_year, 2),
        "output_share_in_year": share(tally.output_value_authorised_in_year, output_total),
    }


def assemble(*, product: str, product_name: str, year: int, county_code: Optional[str], as_of: date, target: float,
             tallies: dict[str, Tally], officials: dict[Optional[str], Official],
             counties: Sequence[tuple[str, str]]) -> dict:
    """The compliance result from per-county tallies and official totals (key None = the city).

    `counties` lists (code, name) of the counties shown in `by_county`, in order.
    """
    by_county = []
    for code, name in counties:
        row = {"county_code": code, "county_name": name}
        row.update(area_figures(tallies.get(code, Tally()), officials.get(code), target))
        by_county.append(row)
    if county_code is None:
        whole = Tally()
        for tally in tallies.values():
            whole = whole + tally
        top = area_figures(whole, officials.get(None), target)
    else:
        top = area_figures(tallies.get(county_code, Tally()), officials.get(county_code), target)
    result = {"product": product, "product_name": product_name, "year": year, "county_code": county_code,
              "as_of": as_of.isoformat()}
    result.update(top)
    result["by_county"] = by_county
    return result


@dataclass
class ProducerFacts:
    """One registered producer of the product, as plain data (reference computation and tests)."""

    id: int
    county_code: str
    town_code: str
    decisions: list = field(default_factory=list)  # objects with action, effective_date, valid_until, id
    outputs: dict[int, float] = field(default_factory=dict)  # year -> output value
    registered_on: Optional[date] = None
    deregistered_on: Optional[date] = None


def reasons(in_region: bool, status: rules.Status, has_output: bool) -> list[str]:
    """Why a producer counts or not: first whether it is in the region and authorised, then output."""
    if not in_region:
        return [OUTSIDE_TOWNS]
    found = [COUNTS if status.in_force else _STATE_REASON.get(status.state, NO_AUTHORISATION)]
    if not has_output:
        found.append(NO_OUTPUT)
    return found


def registered(registered_on: Optional[date], deregistered_on: Optional[date], as_of: date) -> bool:
    """On the register on `as_of`: registered by then and not yet deregistered (queries.on_register in SQL)."""
    return (registered_on is None or registered_on <= as_of) and (deregistered_on is None or deregistered_on > as_of)


def tally_facts(producers: Iterable[ProducerFacts], towns: set[str], year: int, as_of: date,
                county_code: Optional[str] = None, product_id: Optional[int] = None) -> dict[str, Tally]:
    """Reference tallies per county straight from the definitions (status_on per producer).

    Decisions carrying a `product_id` other than `product_id` (when given) are another product's.
    """
    tallies: dict[str, Tally] = {}
    for p in producers:
        if p.town_code not in towns or (county_code is not None and p.county_code != county_code):
            continue
        if not registered(p.registered_on, p.deregistered_on, as_of):
            continue
        value = float(p.outputs.get(year, 0.0))
        mine = [d for d in p.decisions if product_id is None or getattr(d, "product_id", product_id) == product_id]
        in_force = rules.status_on(mine, as_of).in_force
        start = date(year, 1, 1)
        day, in_year = start, False
        while day <= as_of and not in_year:  # any day of the year up to the as-of date
            in_year = rules.status_on(mine, day).in_force
            day += timedelta(days=1)
        tallies[p.county_code] = tallies.get(p.county_code, Tally()) + Tally(
            1, int(in_force), value, value if in_force else 0.0, int(in_year), value if in_year else 0.0)
    return tallies
