"""Local dates: the city runs on China Standard Time."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_now() -> datetime:
    return datetime.now(LOCAL_TZ)


def local_today() -> date:
    """Today's date in Zhongwei."""
    return local_now().date()


def parse_iso_date(value: str) -> date:
    """A YYYY-MM-DD date; ValueError otherwise."""
    value = (value or "").strip()
    if len(value) != 10:
        raise ValueError("expected YYYY-MM-DD")
    return date.fromisoformat(value)
