"""Figures that stay true: the denominators count producers on the register on the date; the in-year share."""
from __future__ import annotations

import random
from datetime import date, timedelta

from sqlmodel import select

from gi_trace.oversight import compliance as c
from gi_trace.registry.imports import import_rows
from gi_trace.registry.models import Producer, SectorTotal
from tests.factories import DecisionFactory, OutputFactory, ProducerFactory, UserFactory, goji
from tests.integration.test_oversight_compliance import _random_history


def test_producer_registered_in_2025_is_not_in_2024s_denominator(session):
    ProducerFactory(registered_on=date(2020, 5, 1))
    late = ProducerFactory(registered_on=date(2025, 3, 1))
    OutputFactory(producer_id=late.id, year=2024, output_value_yuan=999.0)
    r2024 = c.compliance(session, goji(), 2024, as_of=date(2024, 12, 31))
    r2025 = c.compliance(session, goji(), 2025, as_of=date(2025, 12, 31))
    assert r2024["producers_total"] == 1 and r2024["output_value_total"] == 0.0
    assert r2025["producers_total"] == 2
    # the drill-down lists exactly the producers the figure counts
    assert c.drilldown(session, goji(), 2024, as_of=date(2024, 12, 31))["total"] == 1
    assert len(c.drilldown_rows(session, goji(), 2024, as_of=date(2024, 12, 31))) == 1


def test_deregistered_producer_leaves_the_denominator_from_that_date(session):
    gone = ProducerFactory(registered_on=date(2020, 1, 1), deregistered_on=date(2025, 6, 30))
    DecisionFactory(producer_id=gone.id)
    ProducerFactory(registered_on=date(2020, 1, 1))
    assert c.compliance(session, goji(), 2025, as_of=date(2025, 6, 29))["producers_total"] == 2
    r = c.compliance(session, goji(), 2025, as_of=date(2025, 12, 31))
    assert (r["producers_total"], r["producers_authorised"]) == (1, 0)


def test_in_year_share_counts_users_authorised_at_any_time_in_the_year(session):
    stays = ProducerFactory()
    DecisionFactory(producer_id=stays.id, effective_date=date(2023, 1, 1))
    revoked = ProducerFactory()
    DecisionFactory(producer_id=revoked.id, effective_date=date(2023, 1, 1))
    DecisionFactory(producer_id=revoked.id, action="revoke", effective_date=date(2025, 5, 1), reason="x")
    expired = ProducerFactory()
    DecisionFactory(producer_id=expired.id, effective_date=date(2022, 1, 1), valid_until=date(2024, 12, 31))
    late = ProducerFactory()
    DecisionFactory(producer_id=late.id, action="apply", effective_date=date(2025, 10, 1))
    DecisionFactory(producer_id=late.id, effective_date=date(2025, 11, 1))
    ProducerFactory()
    for p, value in ((stays, 100.0), (revoked, 300.0), (expired, 50.0), (late, 50.0)):
        OutputFactory(producer_id=p.id, year=2025, output_value_yuan=value)
    r = c.compliance(session, goji(), 2025, as_of=date(2025, 12, 31))
    assert (r["producers_total"], r["producers_authorised"], r["producers_authorised_in_year"]) == (5, 2, 3)
    assert r["output_share"] == 0.3 and r["output_share_in_year"] == 0.9
    assert r["user_share_in_year"] == 0.6
    zn = r["by_county"][0]
    assert (zn["county_code"], zn["producers_authorised_in_year"]) == ("640521", 3)


def test_in_year_figures_agree_with_the_reference_for_random_histories(session):
    rnd = random.Random(2025)
    facts = []
    for _ in range(150):
        registered_on = date(2020, 1, 1) + timedelta(days=rnd.randint(0, 2200))
        producer = ProducerFactory(registered_on=registered_on)
        history = _random_history(rnd, date(2023, 6, 1) + timedelta(days=rnd.randint(0, 700)))
        decisions = []
        for i, (action, day, valid_until) in enumerate(history):
            DecisionFactory(producer_id=producer.id, action=action, effective_date=day, valid_until=valid_until)
            decisions.append(type("D", (), {"action": action, "effective_date": day, "valid_until": valid_until,
                                            "reference_no": "", "reason": "", "id": i})())
        value = float(rnd.randint(1, 9) * 100)
        OutputFactory(producer_id=producer.id, year=2025, output_value_yuan=value)
        facts.append(c.ProducerFacts(producer.id, "640521", "640521100", decisions, {2025: value},
                                     registered_on=registered_on))
    for as_of in (date(2025, 1, 1), date(2025, 3, 31), date(2025, 6, 30), date(2025, 12, 31)):
        want = c.tally_facts(facts, {"640521100"}, 2025, as_of).get("640521", c.Tally())
        r = c.compliance(session, goji(), 2025, as_of=as_of)
        assert (r["producers_registered"], r["producers_authorised"], r["producers_authorised_in_year"],
                r["output_value_authorised_in_year"]) == (want.producers, want.authorised, want.authorised_in_year,
                                                          want.output_value_authorised_in_year), as_of


def test_history_marks_official_and_register_denominators(session):
    ProducerFactory(registered_on=date(2020, 1, 1))
    session.add(SectorTotal(product_id=goji().id, year=2025, county_code=None, producers_total=4,
                            source="市统计局", scope="whole_sector"))
    session.flush()
    years = c.series(session, goji(), [2024, 2025], today=date(2026, 2, 1))
    assert [y["denominator_source"]["producers"]["kind"] for y in years] == ["register", "official"]
    assert years[1]["denominator_source"]["producers"]["scope"] == "whole_sector"
    assert years[1]["user_share"] == 0.0 and years[1]["producers_total"] == 4


def test_import_sets_register_dates_and_scope(session):
    admin = UserFactory(role="admin")
    header = ["uscc", "registry_no", "name", "kind", "county_code", "town_code", "products", "registered_on"]
    result = import_rows(session, "producers", header,
                         [(2, ["", "ZW-1", "某农户", "农户", "640521", "640521100", "zhongning-goji", "2025-04-01"]),
                          (3, ["", "ZW-2", "另一农户", "农户", "640521", "640521100", "zhongning-goji", ""])],
                         user=admin)
    assert result.ok, result.errors
    by_no = {p.registry_no: p for p in session.exec(select(Producer)).all()}
    assert by_no["ZW-1"].registered_on == date(2025, 4, 1)
    assert by_no["ZW-2"].registered_on is not None
    bad = import_rows(session, "producers", header + ["deregistered_on"],
                      [(2, ["", "ZW-3", "农户三", "农户", "640521", "640521100", "zhongning-goji", "2025-04-01",
                            "2025-01-01"])], user=admin)
    assert not bad.ok and bad.errors[0].column == "deregistered_on"
    totals = import_rows(session, "sector-totals", ["product", "year", "county_code", "producers_total",
                                                    "output_value_yuan", "source", "scope"],
                         [(2, ["zhongning-goji", "2025", "", "400", "", "市统计局", "全行业"])], user=admin)
    assert totals.ok, totals.errors
    assert session.exec(select(SectorTotal)).one().scope == "whole_sector"
