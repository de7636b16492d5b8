"""EPCIS events captured from a party's own system (tracing.epcis_capture): what each eventID created.

A captured event is remembered by its eventID (unique: EPCIS eventIDs are global), the party that sent it,
when, the SHA-256 of its canonical JSON (recordTime and errorDeclaration left out: the first is the capturing
repository's time, the second is added when the event is corrected) and the records it created. Capturing the
same event again changes nothing; the same eventID with other content is refused. `CapturedName` maps the names
the EPCIS export derives its own eventIDs from (`event:<code>:<seq>`, `op:<op_id>`, `shipment:<op_id>:<what>`,
`units:<code>:<first>-<last>:<what>`, see tracing.epcis_ids) to the captured eventID, so an export of captured
events carries the eventIDs the sender gave them. Rows are only ever added.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

MAX_EVENT_ID = 200


class CapturedEvent(SQLModel, table=True):
    """One EPCIS event recorded through `POST /api/v1/epcis/capture`."""

    id: Optional[int] = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=MAX_EVENT_ID, unique=True, index=True)  # the EPCIS eventID as sent
    party_id: int = Field(foreign_key="producer.id", index=True)
    captured_by: Optional[int] = Field(default=None, foreign_key="user.id")
    captured_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sha256: str = Field(max_length=64)  # of the event's canonical JSON, less recordTime and errorDeclaration
    # What it created: [{"kind": "batch"|"event"|"shipment"|"units", "batch": code, "seq": n, "id": n, ...}]
    records: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # errorDeclaration.declarationTime when the sender declared the event erroneous (its correction is a new
    # event); the export gives it back instead of the time the correction was captured here.
    declared_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<CapturedEvent {self.event_id} party={self.party_id}>"


class CapturedName(SQLModel, table=True):
    """The export's name of a captured record (see the module docstring) → the captured eventID."""

    id: Optional[int] = Field(default=None, primary_key=True)
    capture_id: int = Field(foreign_key="capturedevent.id", index=True)
    name: str = Field(max_length=120, unique=True, index=True)

    def __repr__(self) -> str:
        return f"<CapturedName {self.name}>"
