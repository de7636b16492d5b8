"""The GS1 company prefix importer: prefixes (厂商识别代码) a regulator records per producer; known ones stay."""
from __future__ import annotations

from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import select

from gi_trace.errors import Forbidden
from gi_trace.registry import gs1_prefixes
from gi_trace.registry.imports.base import Progress, _Importer
from gi_trace.registry.models import CompanyPrefix


class _PrefixImporter(_Importer):
    """GS1 company prefixes (厂商识别代码) per producer: new ones are added, known ones left as they are."""

    kind = "gs1-prefixes"

    def __init__(self, *args):
        super().__init__(*args)
        if self.user is not None and self.user.role not in ("admin", "regulator"):
            raise Forbidden(_("Only regulators can import register data."))
        self.codes = self.producer_codes()
        table = CompanyPrefix.__table__
        self.known: dict[str, int] = dict(self.session.execute(select(table.c.prefix, table.c.producer_id)).all())
        self.seen: dict[str, tuple[int, int]] = {}  # prefix -> (row, producer id)
        self.rows: list[dict] = []

    def _overlapping(self, prefix: str, producer_id: int) -> Optional[str]:
        for other, owner in self.known.items():
            if owner != producer_id and gs1_prefixes.overlaps(prefix, other):
                return other
        for other, (_row, owner) in self.seen.items():
            if owner != producer_id and gs1_prefixes.overlaps(prefix, other):
                return other
        return None

    def check(self, row: int, cells: dict[str, str]) -> None:
        producer = self.find_producer(self.codes, cells["producer"])
        if producer is None:
            self.error(row, "producer", _("No producer with code %(code)s.", code=cells["producer"]))
            return
        if self.outside_county(producer[1]):
            self.county_error(row, "producer")
            return
        problem = gs1_prefixes.prefix_problem(cells["prefix"])
        if problem:
            self.error(row, "prefix", problem)
            return
        prefix = gs1_prefixes.normalise(cells["prefix"])
        first = self.seen.get(prefix)
        if first is not None:
            self.error(row, "prefix", _("Row %(row)s already gives prefix %(prefix)s.", row=first[0], prefix=prefix))
            return
        other = self._overlapping(prefix, producer[0])
        if other is not None:
            self.error(row, "prefix", _("GS1 company prefix %(prefix)s overlaps prefix %(other)s of another "
                                        "producer.", prefix=prefix, other=other))
            return
        self.seen[prefix] = (row, producer[0])
        if self.known.get(prefix) == producer[0]:
            self.result.unchanged += 1
            return
        self.rows.append({"producer_id": producer[0], "prefix": prefix, "recorded_at": self.now,
                          "recorded_by": getattr(self.user, "id", None)})

    def finish(self) -> None:
        self.result.inserted = len(self.rows)

    def write(self, progress: Progress) -> None:
        self.bulk_insert(CompanyPrefix.__table__, self.rows, progress)
