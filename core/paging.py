"""Lists shown a page at a time. Their counts stop at a cap: a page view never counts a big
table in full, it says "more than 1000" instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

PAGE_SIZE = 50
COUNT_CAP = 1000
MAX_PAGE = 10_000  # far beyond any real list; a larger number in a URL is read as the last

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    rows: list[T]
    number: int  # counted from 1
    size: int
    count: int  # how many match, at most COUNT_CAP
    more_than: bool  # more than COUNT_CAP match

    @property
    def has_next(self) -> bool:
        return self.more_than or self.number * self.size < self.count

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_number(value: str | None) -> int:
    """A page number from a query string: 1 unless it is a sensible whole number."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 5:
        return min(max(int(value), 1), MAX_PAGE)
    return 1


async def capped_count(
    session: AsyncSession, ids: Select[Any], cap: int | None = None
) -> tuple[int, bool]:
    """How many rows ``ids`` (a select of one id column) yields, reading at most cap + 1
    (default COUNT_CAP)."""
    cap = COUNT_CAP if cap is None else cap
    found = await session.scalar(select(func.count()).select_from(ids.limit(cap + 1).subquery()))
    found = int(found or 0)
    return min(found, cap), found > cap
