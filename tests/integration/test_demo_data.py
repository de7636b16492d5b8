"""The demo-data command: realistic, deterministic, valid histories, and a no-op on a filled register."""
import re
from datetime import date

from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.db import get_engine
from gi_trace.registry.models import GROWER_KINDS, OutputRecord, Plot, Producer, SectorTotal, Trademark
from gi_trace.registry.reference import GOJI_TOWNS, ensure_reference_data
from gi_trace.registry.uscc import check_uscc
from gi_trace.tracing import quality, recall
from gi_trace.tracing.models import Batch
from gi_trace.tracing.models_recall import Recall, RecallMember
from tests.conftest import _empty_tables, login


def _snapshot(app) -> dict:
    with Session(get_engine(app)) as s:
        code = {p.id: p.code for p in s.exec(select(Producer)).all()}
        return {
            "producers": sorted((p.code, p.name, p.kind, p.town_code, p.uscc_check_ok)
                                for p in s.exec(select(Producer)).all()),
            "plots": sorted((code[p.producer_id], p.town_code, p.area_mu, p.cultivar) for p in s.exec(select(Plot))),
            "marks": sorted((code[t.producer_id], t.name) for t in s.exec(select(Trademark))),
            "outputs": sorted((code[o.producer_id], o.year, o.output_kg, o.output_value_yuan)
                              for o in s.exec(select(OutputRecord))),
            "decisions": sorted((code[d.producer_id], d.effective_date, d.action, d.reference_no, d.reason,
                                 d.valid_until) for d in s.exec(select(AuthorisationDecision))),
            "totals": sorted((t.year, t.county_code or "", t.producers_total, t.output_value_yuan)
                             for t in s.exec(select(SectorTotal))),
        }


def _reset(app) -> None:
    engine = get_engine(app)
    _empty_tables(engine)
    with Session(engine) as s:
        ensure_reference_data(s)
        s.commit()


def test_demo_data_is_deterministic_with_seed(app, runner):
    assert runner.invoke(args=["demo-data", "--seed", "7", "--producers", "80"]).exit_code == 0
    first = _snapshot(app)
    _reset(app)
    assert runner.invoke(args=["demo-data", "--seed", "7", "--producers", "80"]).exit_code == 0
    assert _snapshot(app) == first
    _reset(app)
    assert runner.invoke(args=["demo-data", "--seed", "8", "--producers", "80"]).exit_code == 0
    assert _snapshot(app)["producers"] != first["producers"]
    growers = [p for p in first["producers"] if p[2] in GROWER_KINDS]  # the chain adds dealers and a processor
    assert len(growers) == 80 and first["decisions"] and first["outputs"] and first["totals"]


def test_if_empty_is_a_no_op_on_a_filled_register(app, runner):
    assert runner.invoke(args=["demo-data", "--producers", "40"]).exit_code == 0
    before = _snapshot(app)
    result = runner.invoke(args=["demo-data", "--if-empty"])
    assert result.exit_code == 0 and "nothing loaded" in result.output
    assert "zhongning" in result.output and "demo12345" in result.output  # run.sh shows the logins every start
    assert _snapshot(app) == before
    again = runner.invoke(args=["demo-data"])  # without --if-empty a filled register is refused
    assert again.exit_code != 0
    assert _snapshot(app) == before


def test_demo_data_prints_summary_and_logins(runner):
    result = runner.invoke(args=["demo-data", "--producers", "40"])
    assert result.exit_code == 0, result.output
    for username in ("admin", "regulator", "zhongning", "producer", "producer2"):
        assert f"{username}" in result.output
    assert "demo12345" in result.output and "producers" in result.output


def test_demo_histories_are_valid_and_realistic(app, runner):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    with Session(get_engine(app)) as s:
        producers = {p.id: p for p in s.exec(select(Producer)).all()}
        decisions = s.exec(select(AuthorisationDecision).order_by(AuthorisationDecision.effective_date,
                                                                  AuthorisationDecision.id)).all()
        users = {u.username: u for u in s.exec(select(User)).all()}
        outputs = s.exec(select(OutputRecord)).all()
        plots = s.exec(select(Plot)).all()
    assert 250 <= len(producers) <= 350
    assert {p.kind for p in producers.values()} == {"enterprise", "cooperative", "family_farm", "household",
                                                     "trader", "processor"}  # the chain: dealers, a processor
    assert any(p.town_code == "640521206" for p in producers.values())  # 太阳梁乡, outside the area
    assert any(not p.county_code == "640521" for p in producers.values())
    for p in producers.values():
        if p.kind == "household":
            assert p.uscc is None and p.registry_no
        else:
            result = check_uscc(p.uscc)
            assert result.valid and result.check_ok == p.uscc_check_ok
    by_producer: dict[int, list] = {}
    for d in decisions:
        assert d.decided_by is not None and d.recorded_at is not None  # who and when
        if d.action == "approve":
            assert d.reference_no.startswith("中宁地标许字〔")
        if d.action in ("reject", "suspend", "revoke"):
            assert d.reason
        by_producer.setdefault(d.producer_id, []).append(d)
    end_2025 = date(2025, 12, 31)
    in_area = [pid for pid, p in producers.items() if p.town_code in GOJI_TOWNS]
    authorised = 0
    states = set()
    for pid, history in by_producer.items():
        status = rules.Status(rules.NONE)
        for d in history:
            status = rules.next_status(status, d)  # raises on an invalid sequence
        end = rules.status_on(history, end_2025)
        states.add(end.state)
        if end.in_force:
            assert producers[pid].town_code in GOJI_TOWNS
            authorised += 1
    assert {rules.AUTHORISED, rules.SUSPENDED, rules.REVOKED, rules.EXPIRED, rules.PENDING,
            rules.REJECTED} <= states
    assert 0.6 <= authorised / len(in_area) <= 0.72
    area = {}
    for plot in plots:
        area[plot.producer_id] = area.get(plot.producer_id, 0) + plot.area_mu
    for o in outputs:
        assert 240 * 0.99 <= o.output_kg / area[o.producer_id] <= 300 * 1.13  # kg per mu, with yearly growth
        assert 40 <= o.output_value_yuan / o.output_kg <= 70
    assert users["zhongning"].county_code == "640521" and users["regulator"].county_code is None
    bound = users["producer"].producer_id
    assert rules.status_on(by_producer[bound], end_2025).in_force and producers[bound].kind == "enterprise"
    assert users["producer2"].producer_id not in (None, bound)


def test_demo_accounts_can_log_in(app, runner, client):
    assert runner.invoke(args=["demo-data", "--producers", "60"]).exit_code == 0
    login(client, "producer", "demo12345")
    page = client.get("/my/authorisations")
    assert page.status_code == 200 and "中宁枸杞" in page.get_data(as_text=True)


def test_the_demo_has_a_recall_reaching_a_dealer_s_packages(app, runner, client):
    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    printed = {what: code for code, what in re.findall(r"^  ([2-9A-Z]{14})  (.+)$", result.output, re.M)}
    package = next(code for what, code in printed.items() if what.startswith("recalled package (一物一码)"))
    withdrawn = next(code for what, code in printed.items() if what.startswith("household batch withdrawn"))
    with Session(get_engine(app)) as s:
        source = s.exec(select(Batch).where(Batch.code == withdrawn)).one()
        verdict = quality.test_verdict(s, source)
        assert verdict.state == "failed" and [f.endswith("180 mg/kg > 50 mg/kg") for f in verdict.failures] == [True]
        row = s.exec(select(Recall).where(Recall.source_batch_id == source.id)).one()
        assert row.by_role == "regulator" and "二氧化硫" in row.reason
        members = s.exec(select(Batch).join(RecallMember, RecallMember.batch_id == Batch.id)
                         .where(RecallMember.recall_id == row.id)).all()
        downstream = [b for b in members if b.id != source.id]
        # the dealer's purchase and the lot packed from it, another owner's batches
        assert len(downstream) >= 2 and {b.producer_id for b in downstream} != {source.producer_id}
        assert all(recall.active_recall(s, b) is not None for b in members)
    page = client.get(f"/t/{package}")
    html = page.get_data(as_text=True)
    assert page.status_code == 410 and "已召回" in html and "二氧化硫 180 mg/kg" in html
    assert "立即停止食用" in html
