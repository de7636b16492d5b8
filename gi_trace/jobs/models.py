"""The tables of background work: the outbox (work a commit left to do) and long jobs (asked by a person)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")


class OutboxEntry(SQLModel, table=True):
    """Work that a committed transaction left to do, written in that same transaction.

    A worker claims entries for a while (`claimed_until`), does the work in its own units of work and
    deletes them only once that work has committed; a claim that runs out (the worker died) is taken
    again. The work is idempotent, so doing it twice is only slower.
    """

    __tablename__ = "outbox"

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)  # the handler that does it (gi_trace.jobs.handle)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attempts: int = 0
    claim: str = Field(default="", max_length=32)  # the worker's token while it holds the entry
    claimed_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_type=Text)  # why the last attempt failed ("" if none did)

    def __repr__(self) -> str:
        return f"<OutboxEntry {self.id} {self.kind} attempts={self.attempts}>"


class Job(SQLModel, table=True):
    """A long piece of work someone asked for (a label sheet, a report, a recall list): its progress,
    then its result to download or the reason it failed."""

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    requested_by: Optional[int] = Field(default=None, foreign_key="user.id", index=True)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="queued", max_length=16)  # JOB_STATUSES
    done: int = 0  # progress: units of work done ...
    total: int = 0  # ... out of (0: not known yet)
    result: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    result_name: str = Field(default="", max_length=200)  # the download's file name
    result_mime: str = Field(default="", max_length=100)
    error: str = Field(default="", sa_type=Text)  # for the person who asked: what went wrong
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    finished_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.status} {self.done}/{self.total}>"
