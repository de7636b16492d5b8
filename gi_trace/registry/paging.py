"""Page numbers for long lists (pure)."""
from __future__ import annotations

from dataclasses import dataclass

PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """Where a page sits in a list of `total` rows."""

    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_of(raw: str | None, total: int, per_page: int = PER_PAGE) -> Page:
    """The requested page (1-based), clamped to the pages that exist; junk means page 1."""
    try:
        number = int(raw or 1)
    except ValueError:
        number = 1
    pages = max(1, -(-total // per_page))
    return Page(min(max(number, 1), pages), per_page, total)
