"""The 专栏4 share rules on hand-built cases (no database).

CASES is shared with tests/integration/test_oversight_compliance.py, which builds the same
producers in a real database and checks that the SQL service gives the same figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

import pytest

from gi_trace.oversight import compliance as c

GOJI = 1
OTHER = 2
ZN = "640521"
SPT = "640502"
TOWN = "640521100"  # 宁安镇, protected
OUTSIDE = "640521206"  # 太阳梁乡, in the county but not protected
TOWNS = {TOWN, "640521101"}
AS_OF = date(2025, 12, 31)


@dataclass
class D:
    action: str
    effective_date: date
    valid_until: Optional[date] = None
    product_id: int = GOJI
    reference_no: str = "ref"
    reason: str = "reason"
    id: int = 0


def facts(pid, *decisions, town=TOWN, county=ZN, outputs=None):
    ds = [D(*d) if isinstance(d, tuple) else d for d in decisions]
    for i, d in enumerate(ds):
        d.id = pid * 100 + i
    return c.ProducerFacts(pid, county, town, ds, outputs if outputs is not None else {2025: 100.0})


# name -> (producer facts, expected (producers, authorised, output total, output authorised))
CASES = {
    "approved_then_revoked_before_as_of": (
        facts(1, ("approve", date(2023, 1, 1)), ("revoke", date(2025, 6, 1))), (1, 0, 100.0, 0.0)),
    "revoked_after_as_of_still_counts": (
        facts(1, ("approve", date(2023, 1, 1)), ("revoke", date(2026, 1, 1))), (1, 1, 100.0, 100.0)),
    "suspended_on_the_date": (
        facts(1, ("approve", date(2023, 1, 1)), ("suspend", AS_OF)), (1, 0, 100.0, 0.0)),
    "suspended_then_reinstated_before_it": (
        facts(1, ("approve", date(2023, 1, 1)), ("suspend", date(2025, 3, 1)), ("reinstate", date(2025, 5, 1))),
        (1, 1, 100.0, 100.0)),
    "reinstated_on_the_date": (
        facts(1, ("approve", date(2023, 1, 1)), ("suspend", date(2025, 3, 1)), ("reinstate", AS_OF)),
        (1, 1, 100.0, 100.0)),
    "approved_after_it": (
        facts(1, ("approve", date(2026, 1, 1))), (1, 0, 100.0, 0.0)),
    "approved_on_the_date": (
        facts(1, ("approve", AS_OF)), (1, 1, 100.0, 100.0)),
    "expired": (
        facts(1, D("approve", date(2023, 1, 1), valid_until=date(2025, 12, 30))), (1, 0, 100.0, 0.0)),
    "in_force_through_its_expiry_date": (
        facts(1, D("approve", date(2023, 1, 1), valid_until=AS_OF)), (1, 1, 100.0, 100.0)),
    "renewed_after_expiry": (
        facts(1, D("approve", date(2022, 1, 1), valid_until=date(2023, 12, 31)),
              D("approve", date(2024, 3, 1), valid_until=date(2026, 12, 31))), (1, 1, 100.0, 100.0)),
    "suspended_then_expired": (
        facts(1, D("approve", date(2023, 1, 1), valid_until=date(2025, 6, 30)), ("suspend", date(2025, 3, 1))),
        (1, 0, 100.0, 0.0)),
    "pending_application": (
        facts(1, ("apply", date(2025, 1, 1))), (1, 0, 100.0, 0.0)),
    "authorised_for_a_different_product": (
        facts(1, D("approve", date(2023, 1, 1), product_id=OTHER)), (1, 0, 100.0, 0.0)),
    "outside_the_protected_towns": (
        facts(1, ("approve", date(2023, 1, 1)), town=OUTSIDE), (0, 0, 0.0, 0.0)),
    "zero_output": (
        facts(1, ("approve", date(2023, 1, 1)), outputs={2025: 0.0}), (1, 1, 0.0, 0.0)),
    "no_output_record": (
        facts(1, ("approve", date(2023, 1, 1)), outputs={}), (1, 1, 0.0, 0.0)),
    "output_recorded_for_another_year": (
        facts(1, ("approve", date(2023, 1, 1)), outputs={2024: 500.0}), (1, 1, 0.0, 0.0)),
    "no_decision_at_all": (
        facts(1), (1, 0, 100.0, 0.0)),
}


def tally(producer, county=None):
    return c.tally_facts([producer], TOWNS, 2025, AS_OF, county, product_id=GOJI)


@pytest.mark.parametrize("name", sorted(CASES))
def test_share_rule_case(name):
    producer, (n, auth, total, total_auth) = CASES[name]
    got = tally(producer).get(ZN, c.Tally())
    assert (got.producers, got.authorised, got.output_value, got.output_value_authorised) == (n, auth, total,
                                                                                              total_auth)


def result(tallies, officials=None, county=None, target=0.6):
    return c.assemble(product="zhongning-goji", product_name="中宁枸杞", year=2025, county_code=county, as_of=AS_OF,
                      target=target, tallies=tallies, officials=officials or {},
                      counties=[(SPT, "沙坡头区"), (ZN, "中宁县")])


def test_shares_are_fractions_rounded_to_four_places():
    r = result({ZN: c.Tally(3, 2, 300.0, 200.0)})
    assert r["user_share"] == 0.6667 and r["output_share"] == 0.6667
    assert r["producers_total"] == 3 and r["producers_authorised"] == 2


def test_exactly_the_target_meets_it():
    r = result({ZN: c.Tally(5, 3, 10.0, 6.0)})
    assert r["user_share"] == 0.6 and r["user_share_met"] and r["output_share_met"]
    r = result({ZN: c.Tally(10000, 5999, 10.0, 5.999)})
    assert r["user_share"] == 0.5999 and not r["user_share_met"] and not r["output_share_met"]


def test_target_is_settable_per_product():
    r = result({ZN: c.Tally(10, 7, 10.0, 7.0)}, target=0.75)
    assert r["target"] == 0.75 and not r["user_share_met"]


def test_no_producers_gives_no_share_and_does_not_meet_target():
    r = result({})
    assert r["user_share"] is None and r["output_share"] is None
    assert not r["user_share_met"] and not r["output_share_met"]
    assert [row["producers_total"] for row in r["by_county"]] == [0, 0]


def test_register_is_the_denominator_without_an_official_total():
    r = result({ZN: c.Tally(4, 3, 400.0, 300.0)})
    assert r["denominator_source"] == {"producers": {"kind": "register", "source": "", "scope": "protected_area"},
                                       "output_value": {"kind": "register", "source": "", "scope": "protected_area"}}


def test_official_total_for_one_county_only_replaces_only_that_countys_denominator():
    tallies = {ZN: c.Tally(4, 3, 400.0, 300.0), SPT: c.Tally(2, 1, 100.0, 50.0)}
    official = {ZN: c.Official(10, 1000.0, "中宁县统计局 2025")}
    r = result(tallies, official)
    zn, spt = {row["county_code"]: row for row in r["by_county"]}[ZN], {row["county_code"]: row
                                                                       for row in r["by_county"]}[SPT]
    assert (zn["producers_total"], zn["user_share"], zn["output_value_total"], zn["output_share"]) == (
        10, 0.3, 1000.0, 0.3)
    assert zn["denominator_source"]["producers"] == {"kind": "official", "source": "中宁县统计局 2025",
                                                     "scope": "protected_area"}
    assert zn["producers_registered"] == 4
    assert (spt["producers_total"], spt["user_share"], spt["output_share"]) == (2, 0.5, 0.5)
    assert spt["denominator_source"]["producers"]["kind"] == "register"
    # The city as a whole has no official total: its denominators are the register's.
    assert (r["producers_total"], r["producers_authorised"], r["user_share"]) == (6, 4, 0.6667)
    assert r["denominator_source"]["output_value"]["kind"] == "register"
    # Asking for the county alone uses its official total.
    only = result(tallies, official, county=ZN)
    assert (only["county_code"], only["producers_total"], only["user_share"]) == (ZN, 10, 0.3)


def test_city_official_total_with_only_an_output_value_keeps_the_register_count():
    r = result({ZN: c.Tally(4, 3, 400.0, 300.0)}, {None: c.Official(None, 600.0, "市统计局")})
    assert r["producers_total"] == 4 and r["denominator_source"]["producers"]["kind"] == "register"
    assert r["output_value_total"] == 600.0 and r["output_share"] == 0.5
    assert r["denominator_source"]["output_value"] == {"kind": "official", "source": "市统计局",
                                                         "scope": "protected_area"}


def test_result_has_every_documented_field():
    r = result({ZN: c.Tally(1, 1, 1.0, 1.0)})
    for key in ("product", "year", "county_code", "as_of", "producers_total", "producers_authorised", "user_share",
                "output_value_total", "output_value_authorised", "output_share", "target", "user_share_met",
                "output_share_met", "denominator_source", "by_county"):
        assert key in r
    assert r["as_of"] == "2025-12-31"
    for key in ("county_code", "producers_total", "user_share", "output_share", "denominator_source"):
        assert key in r["by_county"][0]


def test_as_of_defaults_to_year_end_or_today_in_the_current_year():
    assert c.default_as_of(2024, date(2026, 5, 1)) == date(2024, 12, 31)
    assert c.default_as_of(2026, date(2026, 5, 1)) == date(2026, 5, 1)


@pytest.mark.parametrize("name, expected", [
    ("suspended_on_the_date", ["suspended"]),
    ("approved_then_revoked_before_as_of", ["revoked"]),
    ("expired", ["expired"]),
    ("pending_application", ["pending"]),
    ("no_decision_at_all", ["no_authorisation"]),
    ("no_output_record", ["counts", "no_output"]),
])
def test_drilldown_reason_names_why_a_producer_does_not_count(name, expected):
    from gi_trace.authorisation import rules

    producer = CASES[name][0]
    status = rules.status_on([d for d in producer.decisions if d.product_id == GOJI], AS_OF)
    assert c.reasons(True, status, bool(producer.outputs.get(2025) is not None)) == expected
    assert c.reasons(False, status, True) == ["outside_towns"]
