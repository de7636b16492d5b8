#!/usr/bin/env python3
"""Benchmark the 专栏4 compliance service against one hand-written SQL aggregation, then the annual report.

    .venv/bin/python scripts/bench_compliance.py                      # SQLite file in a temp folder
    .venv/bin/python scripts/bench_compliance.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python scripts/bench_compliance.py --producers 10000    # a quick run

It builds a throwaway database (SQLite file, or a PostgreSQL database it creates on the server the
URL names and drops at the end) holding 100,000 producers registered for 中宁枸杞, 5 years of
output records each (500,000 rows) and a valid history of authorisation decisions for most of them
(approvals, some with expiry, suspensions, reinstatements, revocations, pending applications),
inserted in bulk with SQLAlchemy Core (COPY on PostgreSQL). Then, in the same run:

- the floor: one hand-written SQL statement computing the same two shares (authorised users and
  their output value over the producers of the region) through a bare connection;
- the service: `gi_trace.oversight.compliance.compliance()` — the function the CLI, API and
  dashboard call — inside the app, result dict included;
- the full annual report: `build_report` + every file but the PDF (`report_document.document_files`: HTML,
  JSON, CSV, XLSX; the PDF is made once when a version is issued).

It prints median times and the ratios against the targets: compliance <= 2x the floor, report
<= 20x the compliance time. Contenders take turns within each round (floor, service; then service,
report), so a change in the machine's load does not favour one of them. The floor and the service
must agree on the figures (checked).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

YEARS = (2021, 2022, 2023, 2024, 2025)
PROTECTED = ["640521" + s for s in ("100", "101", "102", "103", "104", "105", "200", "201", "202", "204", "205")]
OUTSIDE = ["640521206", "640502100", "640522100"]  # 太阳梁乡 (same county, not protected), two other counties

# The floor: the fastest hand-written statement for each backend (checked on this machine: PostgreSQL
# sorts the decisions once for a window; SQLite is faster walking the decision index per producer).
FLOOR_WINDOW_SQL = """
WITH last AS (
    SELECT producer_id, action,
           ROW_NUMBER() OVER (PARTITION BY producer_id ORDER BY effective_date DESC, id DESC) AS rn
    FROM authorisationdecision WHERE product_id = :product AND effective_date <= :as_of
), approval AS (
    SELECT producer_id, valid_until,
           ROW_NUMBER() OVER (PARTITION BY producer_id ORDER BY effective_date DESC, id DESC) AS rn
    FROM authorisationdecision WHERE product_id = :product AND action = 'approve' AND effective_date <= :as_of
), authorised AS (
    SELECT l.producer_id FROM last l JOIN approval a ON a.producer_id = l.producer_id AND a.rn = 1
    WHERE l.rn = 1 AND l.action IN ('approve', 'reinstate') AND (a.valid_until IS NULL OR a.valid_until >= :as_of)
)
SELECT COUNT(*), COUNT(au.producer_id), COALESCE(SUM(o.output_value_yuan), 0),
       COALESCE(SUM(CASE WHEN au.producer_id IS NOT NULL THEN o.output_value_yuan END), 0)
FROM producer p
JOIN producerproduct pp ON pp.producer_id = p.id AND pp.product_id = :product
JOIN producttown pt ON pt.product_id = :product AND pt.town_code = p.town_code
LEFT JOIN authorised au ON au.producer_id = p.id
LEFT JOIN outputrecord o ON o.producer_id = p.id AND o.product_id = :product AND o.year = :year
"""

FLOOR_CORRELATED_SQL = """
WITH m AS MATERIALIZED (
    SELECT o.output_value_yuan AS value,
           CASE WHEN (SELECT d.action FROM authorisationdecision d
                      WHERE d.producer_id = p.id AND d.product_id = :product AND d.effective_date <= :as_of
                      ORDER BY d.effective_date DESC, d.id DESC LIMIT 1) IN ('approve', 'reinstate')
                 AND (SELECT d.valid_until IS NULL OR d.valid_until >= :as_of FROM authorisationdecision d
                      WHERE d.producer_id = p.id AND d.product_id = :product AND d.action = 'approve'
                        AND d.effective_date <= :as_of
                      ORDER BY d.effective_date DESC, d.id DESC LIMIT 1)
                THEN 1 ELSE 0 END AS authorised
    FROM producer p
    JOIN producerproduct pp ON pp.producer_id = p.id AND pp.product_id = :product
    JOIN producttown pt ON pt.product_id = :product AND pt.town_code = p.town_code
    LEFT JOIN outputrecord o ON o.producer_id = p.id AND o.product_id = :product AND o.year = :year
)
SELECT COUNT(*), SUM(authorised), COALESCE(SUM(value), 0),
       COALESCE(SUM(CASE WHEN authorised = 1 THEN value END), 0)
FROM m
"""


def phase(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- data ---------------------------------------------------------------------------------------

def county_of(town: str) -> str:
    return town[:6]


def history(rnd: random.Random, pid: int) -> list[tuple]:
    """A valid decision history (action, effective_date, valid_until, reason)."""
    roll = rnd.random()
    if roll < 0.15:
        return []
    start = date(2019, 1, 1) + timedelta(days=rnd.randint(0, 5 * 365))
    if roll < 0.25:
        return [("apply", start, None, "")]
    if roll < 0.30:
        return [("apply", start, None, ""), ("reject", start + timedelta(days=20), None, "材料不全")]
    out = [("apply", start, None, "")] if rnd.random() < 0.5 else []
    approved = start + timedelta(days=30 if out else 0)
    valid_until = approved + timedelta(days=rnd.choice([730, 1095, 1825])) if rnd.random() < 0.4 else None
    out.append(("approve", approved, valid_until, ""))
    day = approved
    r = rnd.random()
    if r < 0.12:
        day += timedelta(days=rnd.randint(30, 700))
        if valid_until is None or day <= valid_until:
            out.append(("suspend", day, None, "检查不合格"))
            if rnd.random() < 0.5:
                day += timedelta(days=rnd.randint(10, 200))
                if valid_until is None or day <= valid_until:
                    out.append(("reinstate", day, None, ""))
    elif r < 0.18:
        day += timedelta(days=rnd.randint(30, 900))
        if valid_until is None or day <= valid_until:
            out.append(("revoke", day, None, "两年未使用"))
    elif valid_until is not None and r < 0.40:
        out.append(("approve", valid_until - timedelta(days=10), valid_until + timedelta(days=1095), ""))
    return out


def generate(n: int, seed: int, product_id: int):
    """Rows for producer, producerproduct, outputrecord, authorisationdecision, sectortotal."""
    from gi_trace.types import utcnow

    rnd = random.Random(seed)
    now = utcnow()
    producers, members, outputs, decisions = [], [], [], []
    decision_id = 0
    for pid in range(1, n + 1):
        town = rnd.choice(PROTECTED) if rnd.random() < 0.93 else rnd.choice(OUTSIDE)
        producers.append({"id": pid, "uscc": None, "registry_no": f"B{pid:09d}", "uscc_check_ok": True,
                          "name": f"基准生产者{pid}", "kind": "household", "county_code": county_of(town),
                          "town_code": town, "address": "", "contact_name": "", "contact_phone": "",
                          "created_at": now})
        members.append({"producer_id": pid, "product_id": product_id})
        base = rnd.uniform(2_000, 400_000)
        for year in YEARS:
            value = round(base * rnd.uniform(0.8, 1.25), 2)
            outputs.append({"producer_id": pid, "product_id": product_id, "year": year,
                            "output_kg": round(value / 50, 1), "output_value_yuan": value})
        for action, day, valid_until, reason in history(rnd, pid):
            decision_id += 1
            decisions.append({"id": decision_id, "producer_id": pid, "product_id": product_id, "action": action,
                              "effective_date": day, "reference_no": f"中宁地标许字〔{day.year}〕{decision_id}号"
                              if action == "approve" else "", "valid_until": valid_until, "reason": reason,
                              "decided_by": None, "recorded_at": now, "source": "import"})
    totals = [{"product_id": product_id, "year": y, "county_code": "640521", "producers_total": int(n * 1.1),
               "output_value_yuan": None, "source": "中宁县统计局（基准数据）"} for y in (2024, 2025)]
    return producers, members, outputs, decisions, totals


def load(engine, product_id: int, n: int, seed: int) -> dict:
    """Bulk-insert the generated rows (executemany on SQLite, COPY on PostgreSQL)."""
    from gi_trace.authorisation.models import AuthorisationDecision
    from gi_trace.registry.models import OutputRecord, Producer, ProducerProduct, SectorTotal

    producers, members, outputs, decisions, totals = generate(n, seed, product_id)
    tables = [(Producer.__table__, producers), (ProducerProduct.__table__, members),
              (OutputRecord.__table__, outputs), (AuthorisationDecision.__table__, decisions),
              (SectorTotal.__table__, totals)]
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for table, rows in tables:
            if not rows:
                continue
            if postgres:
                columns = list(rows[0])
                cursor = conn.connection.cursor()
                with cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
            else:
                for i in range(0, len(rows), 20_000):
                    conn.execute(table.insert(), rows[i:i + 20_000])
        if postgres:
            for table, name in ((Producer.__table__, "producer"), (AuthorisationDecision.__table__,
                                                                   "authorisationdecision")):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT MAX(id) FROM \"{name}\"))")
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {"producers": len(producers), "outputs": len(outputs), "decisions": len(decisions)}


# --- databases ----------------------------------------------------------------------------------

class Database:
    """A throwaway database with the schema and reference data."""

    def __init__(self, base_url: str | None, workdir: Path):
        from gi_trace.config import normalise_database_url

        self.created = None
        if base_url:
            url = normalise_database_url(base_url)
            if not url.startswith("postgresql"):
                raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
            import psycopg

            self.admin = url.replace("postgresql+psycopg://", "postgresql://")
            self.created = f"gi_bench_compliance_{os.getpid()}_{int(time.time())}"
            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.created}"')
            self.url = urlunsplit(urlsplit(url)._replace(path="/" + self.created))
        else:
            self.url = f"sqlite:///{workdir / 'bench.sqlite3'}"

    def drop(self) -> None:
        if self.created:
            import psycopg

            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.created}" WITH (FORCE)')


def interleaved(fns: dict, runs: int) -> tuple[dict, dict]:
    """Median ms of each function over `runs` rounds, calling them in turn within each round.

    Taking turns keeps a change in the machine's load (other jobs) from favouring one contender.
    """
    for fn in fns.values():
        fn()  # warm caches: every contender gets the same warm-up
    times = {name: [] for name in fns}
    results = {}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a throwaway database is created there)")
    parser.add_argument("--producers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9, help="timed runs of the compliance and the floor")
    parser.add_argument("--report-runs", type=int, default=5, help="timed runs of the annual report")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file / PostgreSQL database")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gi_bench_compliance_"))
    os.environ["GI_TRACE_INSTANCE"] = str(workdir / "instance")
    db = Database(args.database_url, workdir)
    try:
        from sqlalchemy import text
        from sqlmodel import Session, SQLModel, select

        import gi_trace.models  # noqa: F401  (registers every table)
        from gi_trace import create_app
        from gi_trace.db import get_engine
        from gi_trace.oversight import report as rep
        from gi_trace.oversight import report_document as doc
        from gi_trace.oversight.compliance import compliance
        from gi_trace.registry.models import Product
        from gi_trace.registry.reference import GOJI_SLUG, ensure_reference_data

        app = create_app({"DATABASE_URL": db.url, "SECRET_KEY": "bench", "TESTING": False})
        engine = get_engine(app)
        phase(f"database {engine.url.render_as_string(hide_password=True)}")
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            ensure_reference_data(session)
            session.commit()
            product_id = session.exec(select(Product.id).where(Product.slug == GOJI_SLUG)).one()
        t0 = time.perf_counter()
        counts = load(engine, product_id, args.producers, args.seed)
        phase(f"loaded {counts['producers']:,} producers, {counts['outputs']:,} output rows, "
              f"{counts['decisions']:,} decisions in {time.perf_counter() - t0:.1f} s")
        as_of = date(args.year, 12, 31)

        floor_sql = text(FLOOR_WINDOW_SQL if db.created else FLOOR_CORRELATED_SQL)

        def floor():
            with engine.connect() as conn:
                n, auth, total, total_auth = conn.execute(floor_sql, {"product": product_id, "as_of": as_of.isoformat(),
                                                                      "year": args.year}).one()
            return n, auth, round(auth / n, 4), round(float(total_auth) / float(total), 4)

        with app.app_context():
            def service():
                with Session(engine) as session:
                    product = session.get(Product, product_id)
                    return compliance(session, product, args.year, None, as_of)

            def report():
                with Session(engine) as session:
                    product = session.get(Product, product_id)
                    data = rep.build_report(session, product, args.year, None, as_of=as_of)
                    files = doc.document_files(data, doc.Cover(doc.DEFAULT_AUTHORITY), pdf=False)
                return sum(len(v) for v in files.values())

            ms, results = interleaved({"floor": floor, "service": service}, args.runs)
            floor_ms, service_ms = ms["floor"], ms["service"]
            floor_result, result = results["floor"], results["service"]
            got = (result["producers_registered"], result["producers_authorised"],
                   round(result["producers_authorised"] / result["producers_registered"], 4),
                   round(result["output_value_authorised"] / result["output_value_registered"], 4))
            if got != floor_result:
                print(f"MISMATCH: service {got} vs floor {floor_result}", file=sys.stderr)
                return 1
            # The report against the compliance time measured in the same rounds.
            ms, results = interleaved({"service": service, "report": report}, args.report_runs)
            report_ms, size = ms["report"], results["report"]
            service_ms_report_rounds = ms["service"]
        phase(f"figures agree: {floor_result[0]:,} producers of the region, {floor_result[1]:,} authorised, "
              f"user share {floor_result[2]}, output share {floor_result[3]} (register denominators)")
        backend = "PostgreSQL" if db.created else "SQLite"
        print(f"\n{backend}, {args.producers:,} producers × {len(YEARS)} years "
              f"(median of {args.runs}; report median of {args.report_runs}):")
        print(f"  floor (hand-written SQL)  {floor_ms:9.1f} ms")
        print(f"  compliance service        {service_ms:9.1f} ms   ratio {service_ms / floor_ms:5.2f}  (target <= 2)")
        print(f"  annual report, all files  {report_ms:9.1f} ms   ratio {report_ms / service_ms_report_rounds:5.2f}  "
              f"(target <= 20, against the compliance time of the same rounds: {service_ms_report_rounds:.1f} ms; "
              f"{size / 1e6:.1f} MB of files)")
        ok = service_ms <= 2 * floor_ms and report_ms <= 20 * service_ms_report_rounds
        print("  targets met" if ok else "  TARGET MISSED")
        engine.dispose()
        return 0 if ok else 2
    finally:
        if not args.keep:
            db.drop()
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept: {db.url}")


if __name__ == "__main__":
    raise SystemExit(main())
