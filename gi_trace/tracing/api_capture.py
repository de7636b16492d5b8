"""EPCIS 2.0 capture: POST /api/v1/epcis/capture (tracing.epcis_capture). Shapes in `tracing/schemas_capture.py`."""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, request

from gi_trace.access import access, actor
from gi_trace.api import Load, api_bp, operation
from gi_trace.db import get_session
from gi_trace.tracing import epcis_capture
from gi_trace.tracing.schemas_capture import (CapturedEventResult, CapturedRecord, CaptureError, CaptureResult,
                                              EPCISCapture)

MEDIA = ("application/ld+json", "application/json")


def _document() -> Any:
    """The body as JSON: an accepted media type (415), within EPCIS_CAPTURE_MAX_BYTES before it is read (413),
    well-formed (400)."""
    if request.mimetype not in MEDIA:
        abort(415)
    limit = current_app.config.get("EPCIS_CAPTURE_MAX_BYTES") or epcis_capture.DEFAULT_MAX_BYTES
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        abort(413)
    return epcis_capture.read_json(raw)


@api_bp.post("/epcis/capture")
@access("producer")
@operation(body=EPCISCapture, body_media=MEDIA, body_reader=_document,
           responses={201: (CaptureResult, "Captured: every event recorded (or captured before)"),
                      200: (CaptureResult, "Nothing new: every event was captured (or recorded here) before"),
                      422: (CaptureError, "Refused: nothing was recorded; error.refused lists every refused event")},
           errors={409: "The same eventID is being captured by another request", 415: "Not JSON-LD or JSON"},
           tags=["epcis"])
def epcis_capture_document(body: Load[EPCISCapture]):
    """Capture an EPCIS 2.0 document from the party's own system (all its events, or none)."""
    document = body()
    result = epcis_capture.capture(get_session(), actor(), document)
    answer = CaptureResult(
        captured=result.captured, already_captured=len(result.events) - result.captured,
        events=[CapturedEventResult(index=e.index, eventID=e.event_id, status=e.status,
                                    records=[CapturedRecord(**r) for r in e.records]) for e in result.events])
    return answer, 201 if result.captured else 200
