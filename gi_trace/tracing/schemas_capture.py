"""What the EPCIS capture API (`POST /api/v1/epcis/capture`, tracing.epcis_capture) takes and answers."""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from gi_trace.schemas import Body, Public


class EPCISCapture(Body):
    """A GS1 EPCIS 2.0 EPCISDocument in JSON-LD (checked against the EPCIS 2.0 JSON schema, then this system's rules)."""

    context: Any = Field(alias="@context", description="The EPCIS 2.0 JSON-LD context (and gt: for this system's "
                                                       "extensions)")
    type: Literal["EPCISDocument"]
    schemaVersion: str = Field(description="2.0")
    creationDate: str
    epcisBody: dict[str, Any] = Field(description=(
        "eventList: at most 2,000 events, each with an eventID. Batches are named by the party's GS1 Digital Link "
        "(/01/<gtin14>/10/<lot> of its own product line) or trace code (/t/<code>, /id/batch/<code>[/fresh]); a "
        "trace code not in use yet creates the batch with that code. The event types the EPCIS export writes are "
        "captured (stage events, drying, split/merge/processing, unit codes and packing, shipping/receiving/"
        "returns, corrections); anything else is refused with the reason."))


class CapturedRecord(Public):
    """A record the event created: a batch, a stage event (batch and seq), a shipment or purchase (id), unit codes
    (batch, first and last serial)."""

    kind: Literal["batch", "event", "shipment", "purchase", "units"]
    batch: Optional[str] = None
    seq: Optional[int] = None
    id: Optional[int] = None
    first: Optional[int] = None
    last: Optional[int] = None


class CapturedEventResult(Public):
    index: int = Field(description="Position in epcisBody.eventList")
    eventID: str
    status: Literal["captured", "already_captured"]
    records: list[CapturedRecord] = Field(description="What it created (when already captured: what it created then)")


class CaptureResult(Public):
    """What each event of the document created, or that it was captured before."""

    captured: int
    already_captured: int
    events: list[CapturedEventResult]


class RefusedEvent(Public):
    index: Optional[int] = Field(description="Position in epcisBody.eventList (null: the document)")
    eventID: Optional[str]
    message: str
    field: Optional[str] = Field(description="JSON path of what is refused, e.g. epcisBody.eventList[3].quantityList")


class CaptureErrorDetail(Public):
    code: str
    message: str
    field: Optional[str] = None
    refused: list[RefusedEvent] = Field(default_factory=list, description="Every refused event and why")


class CaptureError(Public):
    """Refused: nothing was recorded; `error.refused` lists every refused event with its reason."""

    error: CaptureErrorDetail
