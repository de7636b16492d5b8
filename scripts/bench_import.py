#!/usr/bin/env python3
"""Benchmark the register import against a bare DB-API executemany of the same rows.

    .venv/bin/python scripts/bench_import.py                          # SQLite files in a temp folder
    .venv/bin/python scripts/bench_import.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python scripts/bench_import.py --producers 10000 --outputs 50000   # a quick run

It writes 100,000 producers and 500,000 output rows as CSV files, then on a fresh database imports
them through the real import path (`gi_trace.registry.imports.import_file`, the function the CLI
and the upload page call: parsing, validation and writing, committed), and, in the same run, inserts
the same rows with a bare DB-API `executemany` into an identical empty schema: the bound. It prints
rows per second for both and the ratio (target: ≥ 0.1), for producers, output and combined.

With PostgreSQL the URL names a server (and a database to connect to for CREATE DATABASE); the
benchmark creates two throwaway databases there and drops them at the end. With SQLite it uses
two files in a temporary folder, deleted at the end unless --keep.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOWNS = {  # county -> towns (the 11 protected towns of 中宁县 plus others)
    "640521": ["640521" + s for s in ("100", "101", "102", "103", "104", "105", "200", "201", "202", "204",
                                      "205", "206")],
    "640502": ["640502" + s for s in ("100", "101", "102", "107")],
    "640522": ["640522" + s for s in ("100", "101", "200")],
}
KINDS = ("enterprise", "cooperative", "family_farm", "household")
YEARS = (2021, 2022, 2023, 2024, 2025)
PRODUCT = "zhongning-goji"


def phase(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- data ---------------------------------------------------------------------------------

def make_producers(n: int, seed: int) -> list[tuple]:
    """(uscc, registry_no, name, kind, county, town, products) rows; 1 in 8 a household without a code."""
    from gi_trace.registry.uscc import ALPHABET, check_character

    rnd = random.Random(seed)
    counties = list(TOWNS)
    rows = []
    seen = set()
    for i in range(n):
        county = counties[0] if rnd.random() < 0.8 else rnd.choice(counties[1:])
        town = rnd.choice(TOWNS[county])
        kind = KINDS[i % 4] if i % 8 else "household"
        if kind == "household" and i % 8 == 0:
            uscc, registry_no = "", f"ZN-{i:08d}"
        else:
            while True:
                body = "93" + county + "".join(rnd.choice(ALPHABET) for _ in range(9))
                if body not in seen:
                    seen.add(body)
                    break
            uscc, registry_no = body + check_character(body), ""
        rows.append((uscc, registry_no, f"测试枸杞生产者{i}", kind, county, town, PRODUCT))
    return rows


def make_outputs(producers: list[tuple], n: int, seed: int) -> list[tuple]:
    """(producer code, product, year, kg, value) rows: producers × years until n rows."""
    rnd = random.Random(seed + 1)
    rows = []
    for year in YEARS:
        for p in producers:
            if len(rows) == n:
                return rows
            kg = round(rnd.uniform(100, 20000), 1)
            rows.append((p[0] or p[1], PRODUCT, year, kg, round(kg * rnd.uniform(40, 70), 2)))
    return rows


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


# --- databases ----------------------------------------------------------------------------

class Databases:
    """Two fresh databases with the schema and reference data: one for the import, one for the bound."""

    def __init__(self, base_url: str | None, workdir: Path):
        self.base_url = base_url
        self.workdir = workdir
        self.created: list[str] = []
        if base_url:
            from gi_trace.config import normalise_database_url

            url = normalise_database_url(base_url)
            if not url.startswith("postgresql"):
                raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
            tag = f"{os.getpid()}_{int(time.time())}"
            self.import_url = self._create_pg(url, f"gi_bench_import_{tag}")
            self.bound_url = self._create_pg(url, f"gi_bench_bound_{tag}")
        else:
            self.import_url = f"sqlite:///{workdir / 'import.sqlite3'}"
            self.bound_url = f"sqlite:///{workdir / 'bound.sqlite3'}"
        for url in (self.import_url, self.bound_url):
            self._schema(url)

    @property
    def is_postgres(self) -> bool:
        return self.base_url is not None

    def _admin_conninfo(self, url: str) -> str:
        return url.replace("postgresql+psycopg://", "postgresql://")

    def _create_pg(self, url: str, name: str) -> str:
        import psycopg

        with psycopg.connect(self._admin_conninfo(url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        self._admin_url = url
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path="/" + name))

    def _schema(self, url: str) -> None:
        from sqlmodel import Session, SQLModel

        import gi_trace.models  # noqa: F401  (registers every table)
        from gi_trace.db import make_engine
        from gi_trace.registry.reference import ensure_reference_data

        engine = make_engine(url)
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            ensure_reference_data(session)
            session.commit()
        engine.dispose()

    def dbapi_connect(self, url: str):
        """A bare DB-API connection (sqlite3 / psycopg) with the app's SQLite settings."""
        if self.is_postgres:
            import psycopg

            return psycopg.connect(self._admin_conninfo(url))
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):])
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def drop(self) -> None:
        if not self.created:
            return
        import psycopg

        with psycopg.connect(self._admin_conninfo(self._admin_url), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


# --- the two contenders -------------------------------------------------------------------

def run_import(url: str, workdir: Path, kind: str, path: Path) -> tuple[float, object]:
    """The real import path, committed: seconds and the result."""
    os.environ.setdefault("GI_TRACE_INSTANCE", str(workdir / "instance"))
    from gi_trace import create_app
    from gi_trace.db import get_engine, session_scope
    from gi_trace.registry.imports import import_file

    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    try:
        with app.app_context():
            start = time.perf_counter()
            with session_scope() as session:
                result = import_file(session, kind, path)
            elapsed = time.perf_counter() - start
    finally:
        get_engine(app).dispose()
    if not result.written:
        raise SystemExit(f"the {kind} import wrote nothing: {result.errors[:5]} {result.warnings[:5]}")
    return elapsed, result


def run_bound(dbs: Databases, producers: list[tuple], outputs: list[tuple]) -> tuple[float, float]:
    """Bare executemany of the same table rows into the empty bound database: seconds for each file."""
    from datetime import datetime, timezone

    from gi_trace.registry.uscc import check_uscc

    conn = dbs.dbapi_connect(dbs.bound_url)
    mark = "%s" if dbs.is_postgres else "?"
    cur = conn.cursor()
    cur.execute("SELECT id FROM product WHERE slug = " + mark, (PRODUCT,))
    product_id = cur.fetchone()[0]
    now = datetime.now(timezone.utc)
    now = now if dbs.is_postgres else now.replace(tzinfo=None).isoformat(sep=" ")
    # Rows prepared before the clock starts: the bound measures the database, nothing else.
    producer_rows = [(p[0] or None, p[1] or None, check_uscc(p[0]).check_ok if p[0] else True,
                      p[2], p[3], p[4], p[5], "", "", "", now) for p in producers]
    link_rows = [(i + 1, product_id) for i in range(len(producers))]
    ids = {(p[0] or p[1]): i + 1 for i, p in enumerate(producers)}
    output_rows = [(ids[o[0]], product_id, o[2], o[3], o[4]) for o in outputs]
    columns = ("uscc, registry_no, uscc_check_ok, name, kind, county_code, town_code, address, "
               "contact_name, contact_phone, created_at")
    try:
        start = time.perf_counter()
        cur.executemany(f"INSERT INTO producer ({columns}) VALUES ({', '.join([mark] * 11)})", producer_rows)
        cur.executemany(f"INSERT INTO producerproduct (producer_id, product_id) VALUES ({mark}, {mark})",
                        link_rows)
        conn.commit()
        producers_s = time.perf_counter() - start
        cur.execute("SELECT min(id), max(id) FROM producer")
        assert tuple(cur.fetchone()) == (1, len(producers)), "the bound expects ids 1..n in a fresh table"
        start = time.perf_counter()
        cur.executemany("INSERT INTO outputrecord (producer_id, product_id, year, output_kg, "
                        f"output_value_yuan) VALUES ({', '.join([mark] * 5)})", output_rows)
        conn.commit()
        outputs_s = time.perf_counter() - start
        copy_s = None
        if dbs.is_postgres:
            copy_s = _copy_bound(conn, columns, producer_rows, link_rows, output_rows)
    finally:
        conn.close()
    return producers_s, outputs_s, copy_s


def _copy_bound(conn, columns: str, producer_rows, link_rows, output_rows) -> tuple[float, float]:
    """PostgreSQL only: the same rows again with COPY, into the emptied tables (a stricter bound)."""
    cur = conn.cursor()
    cur.execute("TRUNCATE producer, producerproduct, outputrecord RESTART IDENTITY CASCADE")
    conn.commit()
    start = time.perf_counter()
    with cur.copy(f"COPY producer ({columns}) FROM STDIN") as copy:
        for row in producer_rows:
            copy.write_row(row)
    with cur.copy("COPY producerproduct (producer_id, product_id) FROM STDIN") as copy:
        for row in link_rows:
            copy.write_row(row)
    conn.commit()
    producers_s = time.perf_counter() - start
    start = time.perf_counter()
    with cur.copy("COPY outputrecord (producer_id, product_id, year, output_kg, output_value_yuan) "
                  "FROM STDIN") as copy:
        for row in output_rows:
            copy.write_row(row)
    conn.commit()
    return producers_s, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--producers", type=int, default=100_000, help="producers to import (default 100000)")
    parser.add_argument("--outputs", type=int, default=500_000, help="output rows to import (default 500000)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="PostgreSQL server to create throwaway databases on (default: SQLite files)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (CSV files, SQLite files)")
    parser.add_argument("--reimport", action="store_true",
                        help="also import both files a second time (idempotence: every row unchanged)")
    args = parser.parse_args()
    if args.outputs > args.producers * len(YEARS):
        parser.error(f"--outputs can be at most {len(YEARS)} × --producers")

    workdir = Path(tempfile.mkdtemp(prefix="gi_bench_import_"))
    os.environ["GI_TRACE_INSTANCE"] = str(workdir / "instance")
    dbs = None
    try:
        phase(f"generating {args.producers:,} producers and {args.outputs:,} output rows in {workdir}")
        producers = make_producers(args.producers, args.seed)
        outputs = make_outputs(producers, args.outputs, args.seed)
        producers_csv, outputs_csv = workdir / "producers.csv", workdir / "output.csv"
        write_csv(producers_csv,
                  ["uscc", "registry_no", "name", "kind", "county_code", "town_code", "products"], producers)
        write_csv(outputs_csv, ["producer", "product", "year", "output_kg", "output_value_yuan"], outputs)
        phase("creating two fresh databases (schema + reference data)")
        dbs = Databases(args.database_url, workdir)
        backend = "PostgreSQL" if dbs.is_postgres else "SQLite"

        phase("import: producers through gi_trace.registry.imports.import_file")
        imp_p, result_p = run_import(dbs.import_url, workdir, "producers", producers_csv)
        phase(f"  {result_p.inserted:,} inserted in {imp_p:.2f} s")
        phase("import: output")
        imp_o, result_o = run_import(dbs.import_url, workdir, "output", outputs_csv)
        phase(f"  {result_o.inserted:,} inserted in {imp_o:.2f} s")
        phase("bound: bare DB-API executemany of the same rows")
        bound_p, bound_o, copy = run_bound(dbs, producers, outputs)

        print()
        print(f"backend: {backend}; rows per second (import = parse + validate + write + commit)")
        print(f"{'':10} {'rows':>9} {'import rows/s':>14} {'bound rows/s':>13} {'ratio':>7}")
        for label, rows, imp, bound in (
                ("producers", len(producers), imp_p, bound_p),
                ("output", len(outputs), imp_o, bound_o),
                ("combined", len(producers) + len(outputs), imp_p + imp_o, bound_p + bound_o)):
            print(f"{label:10} {rows:>9,} {rows / imp:>14,.0f} {rows / bound:>13,.0f} {bound / imp:>7.3f}")
        print("(the bound for producers also inserts their producer-product links, as the import does)")
        if copy is not None:
            print()
            print("PostgreSQL COPY of the same rows (stricter than executemany):")
            for label, rows, imp, bound in (
                    ("producers", len(producers), imp_p, copy[0]),
                    ("output", len(outputs), imp_o, copy[1]),
                    ("combined", len(producers) + len(outputs), imp_p + imp_o, copy[0] + copy[1])):
                print(f"{label:10} {rows:>9,} {rows / imp:>14,.0f} {rows / bound:>13,.0f} {bound / imp:>7.3f}")
        if args.reimport:
            print()
            for kind, path in (("producers", producers_csv), ("output", outputs_csv)):
                seconds, again = run_import(dbs.import_url, workdir, kind, path)
                print(f"re-import {kind:9} {again.rows:>9,} rows in {seconds:.2f} s "
                      f"({again.rows / seconds:,.0f} rows/s): inserted {again.inserted}, "
                      f"updated {again.updated}, unchanged {again.unchanged:,}")
        return 0
    finally:
        if dbs is not None:
            dbs.drop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
