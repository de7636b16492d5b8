"""A realistic, deterministic Zhongning demo dataset (from ../shared/domain.md), inserted in bulk.

Producers over the 11 protected towns of 中宁枸杞 plus some outside them, their plots, trademarks,
output 2021–2025, a history of authorisation decisions that obeys `authorisation.rules`, sector
totals, and demo accounts. Same seed, same data.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional

from sqlalchemy import func, insert
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.accounts.services import create_user
from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.registry.models import (
    CompanyPrefix,
    OutputRecord,
    Plot,
    Producer,
    ProducerProduct,
    SectorTotal,
    Trademark,
)
from gi_trace.registry.reference import COUNTIES, GOJI_SLUG, GOJI_TOWNS, ensure_reference_data
from gi_trace.registry.services import get_product
from gi_trace.registry.uscc import ALPHABET, check_character
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.types import utcnow

DEMO_PASSWORD = "demo12345"
DEFAULT_SEED = 2025
ZHONGNING = "640521"
TAIYANGLIANG = "640521206"
YEARS = (2021, 2022, 2023, 2024, 2025)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN = "建国志强海军玉兰秀英春花小平学文红梅宝山永福国庆金凤德明彦龙桂芳晓燕占林俊杰丽娟文斌天宇新民"
BRAND_WORDS = ["杞", "宁", "红", "宝", "源", "润", "丰", "盛", "康", "沙", "河", "塞", "上", "泉", "香", "玺", "鑫", "禾",
               "瑞", "华", "正", "天", "百", "瑞"]
ENTERPRISE_SUFFIXES = ["枸杞科技有限公司", "枸杞产业有限公司", "枸杞食品有限公司", "生物科技有限公司", "农业发展有限公司",
                       "枸杞贸易有限公司"]
CULTIVARS = ["宁杞1号", "宁杞5号", "宁杞7号", "宁杞7号", "宁农杞9号", "宁杞10号"]
SUSPEND_REASONS = ["抽检不合格：含水率超标（14.2%）", "未按规定报告专用标志使用情况", "标签未标注统一社会信用代码",
                   "抽检发现二氧化硫残留，暂停使用专用标志", "产量与种植面积不符（以地定产核查）"]
REVOKE_REASONS = ["连续两年未使用地理标志专用标志", "整改期满仍不符合标准要求", "将外省枸杞冒充中宁枸杞销售",
                  "超范围使用专用标志，拒不整改"]
REJECT_REASONS = ["申请材料不全，缺少种植基地证明", "生产基地不在中宁枸杞地理标志保护范围内",
                  "抽检不符合 GB/T 18672-2014 要求", "未提供产品质量检测报告"]
OUTSIDE_REJECT_REASON = "生产基地不在中宁枸杞地理标志保护范围内"
REASON_CODE_OF = {
    "抽检不合格：含水率超标（14.2%）": "product_standard", "抽检发现二氧化硫残留，暂停使用专用标志": "product_standard",
    "产量与种植面积不符（以地定产核查）": "outside_area", "连续两年未使用地理标志专用标志": "unused_two_years",
    "整改期满仍不符合标准要求": "product_standard", "将外省枸杞冒充中宁枸杞销售": "outside_area",
    "生产基地不在中宁枸杞地理标志保护范围内": "outside_area", "抽检不符合 GB/T 18672-2014 要求": "product_standard",
}

# What happens to an in-area producer's authorisation, with weights (≈ 62% authorised at the end).
FATES = [("none", 11), ("pending", 5), ("rejected", 5), ("authorised", 52), ("reapplied", 4),
         ("suspended_reinstated", 6), ("suspended", 4), ("revoked", 5), ("expired", 4), ("renewed", 4)]
# kind, share, plot area range per plot (亩), plots range
KINDS = [("enterprise", 12, (150, 900), (1, 3)), ("cooperative", 22, (80, 500), (1, 3)),
         ("family_farm", 26, (30, 150), (1, 2)), ("household", 40, (3, 25), (1, 2))]
USCC_TYPE = {"enterprise": "91", "cooperative": "93", "family_farm": "92"}


@dataclass
class DemoSummary:
    producers: int = 0
    in_area: int = 0
    authorised_in_area_2025: int = 0
    plots: int = 0
    trademarks: int = 0
    gs1_prefixes: int = 0
    outputs: int = 0
    decisions: int = 0
    sector_totals: int = 0
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, note
    skipped_accounts: list[str] = field(default_factory=list)

    @property
    def share_2025(self) -> float:
        return self.authorised_in_area_2025 / self.in_area if self.in_area else 0.0


@dataclass
class _Decision:
    action: str
    effective_date: date
    reference_no: str = ""
    valid_until: Optional[date] = None
    reason: str = ""


def _rand_date(rnd: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rnd.randrange(max(1, (end - start).days + 1)))


def _uscc(rnd: random.Random, kind: str, county: str, good: bool = True) -> str:
    body = "9" + USCC_TYPE[kind][1] + county + "".join(rnd.choice(ALPHABET) for _ in range(9))
    check = check_character(body)
    if not good:  # a real-world code whose check character fails (accepted by a regulator)
        check = ALPHABET[(ALPHABET.index(check) + 1) % len(ALPHABET)]
    return body + check


class _RefNumbers:
    """中宁地标许字〔YYYY〕N号, numbered per year in the order approvals happen."""

    def __init__(self):
        self.counter: dict[int, int] = {}

    def next(self, on: date) -> str:
        n = self.counter.get(on.year, 0) + 1
        self.counter[on.year] = n
        return f"中宁地标许字〔{on.year}〕{n}号"


def _history(rnd: random.Random, fate: str, refs: _RefNumbers) -> list[_Decision]:
    """A sequence of decisions for one in-area producer that ends in `fate`."""
    if fate == "none":
        return []
    start = _rand_date(rnd, date(2021, 2, 1), date(2024, 6, 30))
    if fate == "pending":
        return [_Decision("apply", _rand_date(rnd, date(2025, 9, 1), date(2025, 12, 20)))]
    seq = [_Decision("apply", start)]
    decided = start + timedelta(days=rnd.randint(15, 60))
    if fate == "rejected":
        return seq + [_Decision("reject", decided, reason=rnd.choice(REJECT_REASONS[:1] + REJECT_REASONS[2:]))]
    if fate == "reapplied":
        seq.append(_Decision("reject", decided, reason=rnd.choice(REJECT_REASONS[:1] + REJECT_REASONS[3:])))
        start = decided + timedelta(days=rnd.randint(60, 200))
        seq.append(_Decision("apply", start))
        decided = start + timedelta(days=rnd.randint(15, 60))
    if fate in ("expired", "renewed"):
        # Three-year approvals from 2021–2022: they ran out in 2024–2025.
        decided = _rand_date(rnd, date(2021, 3, 1), date(2022, 10, 31))
        seq = [_Decision("apply", decided - timedelta(days=rnd.randint(15, 60)))]
        until = decided.replace(year=decided.year + 3) - timedelta(days=1)
        seq.append(_Decision("approve", decided, refs.next(decided), valid_until=until))
        if fate == "renewed":
            renew = until - timedelta(days=rnd.randint(5, 40))
            seq.append(_Decision("approve", renew, refs.next(renew),
                                 valid_until=renew.replace(year=renew.year + 3) - timedelta(days=1)))
        return seq
    seq.append(_Decision("approve", decided, refs.next(decided)))
    if fate in ("suspended_reinstated", "suspended", "revoked"):
        suspended = _rand_date(rnd, max(decided + timedelta(days=90), date(2023, 3, 1)), date(2025, 8, 31))
        seq.append(_Decision("suspend", suspended, reason=rnd.choice(SUSPEND_REASONS)))
        if fate == "suspended_reinstated":
            seq.append(_Decision("reinstate", suspended + timedelta(days=rnd.randint(30, 120)),
                                 reason="整改完成，复查合格"))
        elif fate == "revoked":
            seq.append(_Decision("revoke", suspended + timedelta(days=rnd.randint(30, 120)),
                                 reason=rnd.choice(REVOKE_REASONS)))
    return seq


def _validate(seq: list[_Decision]) -> rules.Status:
    """Run the sequence through the real rules (raises InvalidTransition on a bad one)."""
    status = rules.Status(rules.NONE)
    for d in seq:
        status = rules.next_status(status, d)
    return status


def _recorded_at(on: date, rnd: random.Random) -> datetime:
    local = datetime.combine(on, time(9 + rnd.randrange(8), rnd.randrange(60)), tzinfo=LOCAL_TZ)
    return local.astimezone(timezone.utc)


def _names(rnd: random.Random, kind: str, town_name: str, county_name: str, used: set[str]) -> str:
    for _ in range(100):
        person = rnd.choice(SURNAMES) + "".join(rnd.sample(GIVEN, rnd.choice((1, 2))))
        brand = "".join(rnd.sample(BRAND_WORDS, 2))
        short_town = town_name.rstrip("镇乡")
        if kind == "enterprise":
            name = rnd.choice([f"宁夏{brand}", f"{county_name}{brand}", f"中卫市{brand}"]) + rnd.choice(
                ENTERPRISE_SUFFIXES)
        elif kind == "cooperative":
            name = f"{county_name}{short_town}{brand}枸杞种植专业合作社"
        elif kind == "family_farm":
            name = f"{county_name}{short_town}{person}家庭农场"
        else:
            name = person
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("could not make a unique name")  # pragma: no cover


def producers_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Producer)).one()


def load_demo_data(session: Session, seed: int = DEFAULT_SEED, producers: int = 300) -> DemoSummary:
    """Insert the demo dataset into an empty register (bulk inserts; flushes, never commits)."""
    rnd = random.Random(seed)
    summary = DemoSummary()
    ensure_reference_data(session)
    goji = get_product(session, GOJI_SLUG)
    towns = {code + suffix: (name, county_name) for code, county_name, _en, ts in COUNTIES
             for suffix, name, _en2 in ts}

    # --- accounts first: decisions and producers record who acted --------------------------
    admin = _user(session, summary, "admin", "admin", "系统管理员")
    regulator = _user(session, summary, "regulator", "regulator", "中卫市市场监督管理局")
    zhongning = _user(session, summary, "zhongning", "regulator", "中宁县市场监督管理局", county_code=ZHONGNING)
    county_officer = zhongning or regulator or admin
    officer_id = county_officer.id if county_officer else None

    # --- producers -------------------------------------------------------------------------
    outside_towns = [TAIYANGLIANG] + [t for t in towns if not t.startswith(ZHONGNING)]
    kinds = [k for k, share, _a, _p in KINDS for _ in range(share)]
    used_names: set[str] = set()
    rows, plans = [], []
    household_no = 0
    for i in range(producers):
        r = rnd.random()
        if r < 0.86:
            town = rnd.choice(GOJI_TOWNS)
        elif r < 0.93:
            town = TAIYANGLIANG
        else:
            town = rnd.choice(outside_towns[1:])
        county = town[:6]
        kind = rnd.choice(kinds)
        town_name, cname = towns[town]
        uscc, registry_no, check_ok = None, None, True
        if kind == "household":
            household_no += 1
            registry_no = f"ZW{town}-{household_no:04d}"
        else:
            check_ok = rnd.random() > 0.02
            uscc = _uscc(rnd, kind, county, good=check_ok)
        name = _names(rnd, kind, town_name, cname, used_names)
        created = _recorded_at(_rand_date(rnd, date(2020, 10, 1), date(2021, 1, 31)), rnd)
        rows.append({
            "uscc": uscc, "registry_no": registry_no, "uscc_check_ok": check_ok,
            "uscc_warning_accepted_by": None if check_ok else officer_id,
            "name": name, "kind": kind, "county_code": county, "town_code": town,
            "address": f"宁夏回族自治区中卫市{cname}{town_name}{rnd.choice('东西南北')}{rnd.randint(1, 12)}组",
            "contact_name": name if kind == "household" else rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(
                GIVEN),
            "contact_phone": f"1{rnd.choice('3589')}{rnd.randint(0, 9)}{rnd.randint(0, 99999999):08d}",
            "created_at": created, "created_by": officer_id, "registered_on": created.date(),
        })
        plans.append((kind, town))
    session.execute(insert(Producer.__table__), rows)
    ids_by_code = {(u or reg): pid for pid, u, reg in session.exec(
        select(Producer.id, Producer.uscc, Producer.registry_no)).all()}
    producer_ids = [ids_by_code[row["uscc"] or row["registry_no"]] for row in rows]
    summary.producers = len(rows)
    session.execute(insert(ProducerProduct.__table__),
                    [{"producer_id": pid, "product_id": goji.id} for pid in producer_ids])

    # --- plots, trademarks, output -----------------------------------------------------------
    kind_info = {k: (area, plots) for k, _s, area, plots in KINDS}
    plot_rows, mark_rows, output_rows = [], [], []
    areas: dict[int, float] = {}
    for pid, (kind, town), row in zip(producer_ids, plans, rows):
        (lo, hi), (pmin, pmax) = kind_info[kind]
        total = 0.0
        for n in range(rnd.randint(pmin, pmax)):
            area = round(rnd.uniform(lo, hi) / (n + 1), 1)
            total += area
            plot_town = town if n == 0 or town not in GOJI_TOWNS else rnd.choice(GOJI_TOWNS)
            has_gps = kind in ("enterprise", "cooperative") or rnd.random() < 0.3
            plot_rows.append({
                "producer_id": pid, "name": f"{towns[plot_town][0]}{'一二三'[n]}号地块", "town_code": plot_town,
                "area_mu": area, "cultivar": rnd.choice(CULTIVARS),
                "latitude": round(rnd.uniform(37.35, 37.60), 5) if has_gps else None,
                "longitude": round(rnd.uniform(105.45, 105.95), 5) if has_gps else None,
            })
        areas[pid] = total
        if kind == "enterprise":
            for n in range(rnd.choice((1, 1, 2))):
                mark_rows.append({"producer_id": pid, "name": "".join(rnd.sample(BRAND_WORDS, 2)) + "牌",
                                  "registration_no": str(rnd.randint(10000000, 69999999))})
        first_year = rnd.choice(YEARS[:3])
        for year in YEARS:
            if year < first_year:
                continue
            kg = round(total * rnd.uniform(240, 300) * (1 + 0.03 * (year - 2021)), 0)
            output_rows.append({"producer_id": pid, "product_id": goji.id, "year": year, "output_kg": kg,
                                "output_value_yuan": round(kg * rnd.uniform(40, 70), 0)})
    session.execute(insert(Plot.__table__), plot_rows)
    if mark_rows:
        session.execute(insert(Trademark.__table__), mark_rows)
    session.execute(insert(OutputRecord.__table__), output_rows)
    summary.plots, summary.trademarks, summary.outputs = len(plot_rows), len(mark_rows), len(output_rows)
    # GS1 company prefixes (厂商识别代码) for the firms and cooperatives: made-up 7-digit numbers in
    # China's 690–699 range (no random draw, so the rest of the demo stays as it was).
    prefix_rows = [{"producer_id": pid, "prefix": f"695{n:04d}", "recorded_at": utcnow()}
                   for n, (pid, (kind, _town)) in enumerate(
                       [(pid, plan) for pid, plan in zip(producer_ids, plans) if plan[0] != "household"], start=1)]
    if prefix_rows:
        session.execute(insert(CompanyPrefix.__table__), prefix_rows)
    summary.gs1_prefixes = len(prefix_rows)

    # --- decisions (valid sequences only) ------------------------------------------------------
    refs = _RefNumbers()
    histories: list[tuple[int, list[_Decision]]] = []
    fates = [f for f, w in FATES for _ in range(w)]
    showcase: list[int] = []
    for pid, (kind, town) in zip(producer_ids, plans):
        if town in GOJI_TOWNS:
            summary.in_area += 1
            fate = rnd.choice(fates)
            if kind == "enterprise" and not showcase:
                fate = "authorised"  # the demo `producer` account needs an authorised enterprise
                showcase.append(pid)
            seq = _history(rnd, fate, refs)
        elif rnd.random() < 0.5:  # outside the area: applied and was refused with the reason
            applied = _rand_date(rnd, date(2021, 3, 1), date(2025, 6, 30))
            seq = [_Decision("apply", applied),
                   _Decision("reject", applied + timedelta(days=rnd.randint(10, 40)), reason=OUTSIDE_REJECT_REASON)]
        else:
            seq = []
        histories.append((pid, seq))
    # Approvals are numbered in date order within a year, as an office would issue them.
    _renumber(histories)
    decision_rows = []
    for pid, seq in histories:
        end = _validate(seq)
        if seq and end.state != rules.NONE and rules.status_on(seq, date(2025, 12, 31)).in_force:
            summary.authorised_in_area_2025 += 1
        for d in seq:
            decision_rows.append({
                "producer_id": pid, "product_id": goji.id, "action": d.action, "effective_date": d.effective_date,
                "reference_no": d.reference_no, "valid_until": d.valid_until, "reason": d.reason,
                "reason_code": REASON_CODE_OF.get(d.reason, "other") if d.action in rules.REASONED_ACTIONS else "",
                "contract_no": d.reference_no.replace("中宁地标许字", "许可合同").replace("号", "") if d.action == "approve"
                else "",
                "notice_no": d.reference_no.replace("中宁地标许字", "中宁县市场监管局公告") if d.action == "approve" else "",
                "standard": "GB/T 18672-2014" if d.action == "approve" else "",
                "decided_by": officer_id, "recorded_at": _recorded_at(d.effective_date, rnd), "source": "demo",
                "inspection_id": None,
            })
    decision_rows.sort(key=lambda r: (r["effective_date"], r["producer_id"]))
    if decision_rows:
        session.execute(insert(AuthorisationDecision.__table__), decision_rows)
    summary.decisions = len(decision_rows)

    # --- sector totals: official figures a little above the registered ones --------------------
    totals = []
    county_of = {pid: row["county_code"] for pid, row in zip(producer_ids, rows)}
    registered = {ZHONGNING: sum(1 for _k, t in plans if t.startswith(ZHONGNING)), None: len(plans)}
    for year in (2023, 2024, 2025):
        value_all = sum(r["output_value_yuan"] for r in output_rows if r["year"] == year)
        value_zn = sum(r["output_value_yuan"] for r in output_rows
                       if r["year"] == year and county_of[r["producer_id"]] == ZHONGNING)
        for county, value, source in ((ZHONGNING, value_zn, "中宁县统计局《国民经济和社会发展统计公报》（演示数据）"),
                                      (None, value_all, "中卫市统计局《统计年鉴》（演示数据）")):
            totals.append({"product_id": goji.id, "year": year, "county_code": county,
                           "producers_total": int(registered[county] * rnd.uniform(1.04, 1.12)),
                           "output_value_yuan": round(value * rnd.uniform(1.03, 1.10), -3), "source": source,
                           "scope": "whole_sector"})
    session.execute(insert(SectorTotal.__table__), totals)
    summary.sector_totals = len(totals)

    # --- producer accounts: an authorised enterprise, and another producer ---------------------
    today_ok = {pid for pid, seq in histories if seq and rules.status_on(seq, date(2025, 12, 31)).in_force}
    enterprise = next((pid for pid in showcase if pid in today_ok), None) or next(
        (pid for pid in producer_ids if pid in today_ok), None)
    other = next((pid for pid, (kind, _t) in zip(producer_ids, plans) if kind == "cooperative" and pid != enterprise),
                 None)
    if enterprise:
        _user(session, summary, "producer", "producer", rows[producer_ids.index(enterprise)]["name"],
              producer_id=enterprise)
    if other:
        _user(session, summary, "producer2", "producer", rows[producer_ids.index(other)]["name"], producer_id=other)
    session.flush()
    return summary


DEMO_USERNAMES = ("admin", "regulator", "zhongning", "producer", "producer2")


def _role_note(role: str, county_code: Optional[str]) -> str:
    if role == "regulator":
        return f"regulator ({county_code})" if county_code else "regulator (city-wide)"
    return role


def existing_demo_accounts(session: Session) -> list[tuple[str, str]]:
    """(username, role) of the demo accounts present, in the usual order."""
    users = {u.username: u for u in session.exec(select(User).where(User.username.in_(DEMO_USERNAMES))).all()}
    return [(name, _role_note(users[name].role, users[name].county_code)) for name in DEMO_USERNAMES
            if name in users and users[name].is_active]


def _renumber(histories: list[tuple[int, list[_Decision]]]) -> None:
    approvals = sorted((d for _pid, seq in histories for d in seq if d.action == "approve"),
                       key=lambda d: d.effective_date)
    refs = _RefNumbers()
    for d in approvals:
        d.reference_no = refs.next(d.effective_date)


def _user(session: Session, summary: DemoSummary, username: str, role: str, display_name: str, *,
          county_code: Optional[str] = None, producer_id: Optional[int] = None) -> Optional[User]:
    """Create a demo account unless the username is taken (then keep the existing one)."""
    existing = session.exec(select(User).where(User.username == username)).first()
    if existing is not None:
        summary.skipped_accounts.append(username)
        return existing
    user = create_user(session, username, DEMO_PASSWORD, role, display_name=display_name,
                       county_code=county_code, producer_id=producer_id)
    summary.accounts.append((username, role, _role_note(role, county_code)))
    return user
