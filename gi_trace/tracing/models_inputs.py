"""Inputs applied on a plot (施肥, 用药): the season's work belongs to the plot, not to a batch.

A `PlotInput` is never updated or deleted. A correction is a new record naming the one it
`supersedes` (at most one correction per record, so corrections cannot fork); the effective records of
a plot are those nothing supersedes. Records moved from the old "planting" events keep a reference to
their source event (`source_event_id`); the events themselves are untouched.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

INPUT_KINDS = ("pesticide", "fertiliser", "other")


class PlotInput(SQLModel, table=True):
    """One application of an input on a plot: what, how much, when, its safety interval, who applied it."""

    __table_args__ = (
        Index("ix_plotinput_plot_season", "plot_id", "season"),
        UniqueConstraint("supersedes_id", name="uq_plotinput_supersedes"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    plot_id: int = Field(foreign_key="plot.id")
    season: int  # the year of applied_on: a goji season is a calendar year
    kind: str = Field(max_length=16)  # INPUT_KINDS
    product_name: str = Field(max_length=200)
    registration_no: str = Field(default="", max_length=32)  # 农药登记证号, e.g. PD20080001
    active_ingredient: str = Field(default="", max_length=200)
    dose: str = Field(default="", max_length=100)
    applied_on: date
    safety_interval_days: Optional[int] = None  # 安全间隔期: days from the application to the earliest harvest
    # Who applied it (a person's name: personal data, never on public pages).
    applied_by: str = Field(default="", max_length=100)
    recorded_by: Optional[int] = Field(default=None, foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    supersedes_id: Optional[int] = Field(default=None, foreign_key="plotinput.id")
    correction_reason: str = Field(default="", max_length=1000)
    source_event_id: Optional[int] = Field(default=None, foreign_key="event.id")  # moved from a planting event

    def __repr__(self) -> str:
        return f"<PlotInput {self.id} plot={self.plot_id} {self.kind} {self.product_name} {self.applied_on}>"
