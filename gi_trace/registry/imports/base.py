"""What every importer shares: row problems, the county limit, producer lookups and bulk writes."""
from __future__ import annotations

from typing import Callable, Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from gi_trace.registry.imports.results import ImportResult, RowProblem
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.types import utcnow

CHUNK = 5000  # rows per executemany

Progress = Optional[Callable[[int], None]]


class _Importer:
    """Checks rows one by one (collecting every problem), then writes them in bulk."""

    kind = ""

    def __init__(self, session: Session, user, result: ImportResult, present: set[str]):
        self.session = session
        self.user = user
        self.result = result
        self.present = present  # columns found in the header
        is_regulator = getattr(user, "role", None) == "regulator"
        self.county_limit = getattr(user, "county_code", None) if is_regulator else None
        self.now = utcnow()

    # Helpers
    def error(self, row: int, column: str, message: str) -> None:
        self.result.errors.append(RowProblem(row, column, message))

    def outside_county(self, county_code: Optional[str]) -> bool:
        return self.county_limit is not None and county_code != self.county_limit

    def county_error(self, row: int, column: str) -> None:
        self.error(row, column, _("This row is outside your county (%(county)s).", county=self.county_limit))

    def products(self) -> dict[str, int]:
        """Product slug or Chinese name -> id."""
        found = dict(self.session.execute(select(Product.name_zh, Product.id)).all())
        found.update(self.session.execute(select(Product.slug, Product.id)).all())
        return found

    def region_code(self, text: str, level: str, parent: Optional[str] = None) -> str:
        """A region's code from its code or its Chinese name (a town's name within its county when given)."""
        if not hasattr(self, "_regions"):
            self._regions = self.session.execute(select(Region.code, Region.name_zh, Region.level,
                                                        Region.parent_code)).all()
        text = (text or "").strip()
        if not text or text.isdigit():
            return text
        matches = [code for code, name, lvl, up in self._regions
                   if lvl == level and name == text and (parent is None or up == parent)]
        return matches[0] if len(matches) == 1 else text

    def producer_codes(self) -> dict[str, tuple]:
        """USCC and registry number -> (id, county code, town code), from one query."""
        table = Producer.__table__
        codes: dict[str, tuple] = {}
        query = select(table.c.id, table.c.uscc, table.c.registry_no, table.c.county_code, table.c.town_code)
        for pid, uscc, registry_no, county, town in self.session.execute(query):
            value = (pid, county, town)
            if registry_no:
                codes[registry_no] = value
            if uscc:
                codes[uscc] = value
        return codes

    def find_producer(self, codes: dict[str, tuple], text: str) -> Optional[tuple]:
        return codes.get(text) or codes.get(text.upper())

    # To be provided by each kind
    def check(self, row: int, cells: dict[str, str]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """After all rows: classify into inserts, updates and unchanged rows."""

    def write(self, progress: Progress) -> None:
        raise NotImplementedError

    # Shared bulk operations
    def _conn(self):
        return self.session.connection()

    def bulk_insert(self, table, rows: list[dict], progress: Progress = None) -> None:
        conn = self._conn()
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            conn.execute(insert(table), chunk)
            if progress:
                progress(len(chunk))

    def bulk_update(self, table, columns: Iterable[str], rows: list[dict], progress: Progress = None) -> None:
        """UPDATE table SET columns WHERE id = :b_id, executemany (rows carry 'b_id' and 'b_<column>')."""
        columns = list(columns)
        statement = (update(table).where(table.c.id == bindparam("b_id"))
                     .values({c: bindparam("b_" + c) for c in columns}))
        conn = self._conn()
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            conn.execute(statement, chunk)
            if progress:
                progress(len(chunk))
