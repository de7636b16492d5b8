"""Reading a capture request: the JSON text, the EPCIS 2.0 JSON schema, and the facts of each event.

Nothing here touches the database. `read_json` turns the body into a document (a malformed body is a 400);
`schema_problems` lists what the GS1 schema refuses, per event where it concerns one; `incoming` gives each
event's index, eventID, time and the SHA-256 of its canonical JSON, which makes a repeated capture harmless.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from flask_babel import gettext as _
from jsonschema import Draft7Validator, FormatChecker

from gi_trace.errors import DomainError, ValidationError
from gi_trace.tracing import rules
from gi_trace.tracing.models_capture import MAX_EVENT_ID

SCHEMA_PATH = Path(__file__).with_name("EPCIS-JSON-Schema.json")  # origin: SCHEMA_ORIGIN.md beside it
MAX_EVENTS = 2000  # events in one document; a larger batch is several requests
DEFAULT_MAX_BYTES = 4 * 1024 * 1024  # EPCIS_CAPTURE_MAX_BYTES
# Left out of an event's fingerprint: recordTime is the capturing repository's own time (EPCIS 2.0 §7.4.1: a
# sender's value is not kept) and errorDeclaration is what a sender adds when it corrects an event later.
NOT_CONTENT = ("recordTime", "errorDeclaration")
EXT = "gt:"  # the prefix of this system's extension properties (the export binds it to <base>/voc/)


class BadBody(DomainError):
    """The request body is not JSON at all (400)."""

    status = 400
    code = "bad_request"


def read_json(raw: bytes) -> Any:
    """The body as JSON; BadBody naming what is wrong (never a 500, whatever the bytes or their nesting)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody(_("The body must be JSON in UTF-8."), field="body") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadBody(_("The body is not well-formed JSON."), field="body") from None
    if _has_nul(document):  # PostgreSQL text cannot hold NUL; no real input has one
        raise ValidationError(_("%(field)s contains a character that is not allowed.", field="body"), field="body")
    return document


def _has_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _no_constant(name: str):
    raise ValueError(name)  # NaN and Infinity are not JSON


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    return Draft7Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")), format_checker=FormatChecker())


def path_text(parts) -> str:
    """A JSON path as a client writes it: epcisBody.eventList[3].quantityList[0].quantity."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def event_field(index: int, field: Optional[str]) -> str:
    """The path of a field of the document's event `index` (the event itself without a field)."""
    base = f"epcisBody.eventList[{index}]"
    if not field:
        return base
    return base + (field if field.startswith("[") else "." + field)


@dataclass(frozen=True)
class Problem:
    """What the schema (or a first check) refuses: the event it concerns (None: the document), a message, a path."""

    index: Optional[int]
    message: str
    field: str


def schema_problems(document: Any) -> list[Problem]:
    """What the EPCIS 2.0 JSON schema refuses, the first problem per event (and per document outside events)."""
    if not isinstance(document, dict):
        return [Problem(None, _("The body must be a JSON object: an EPCISDocument."), "body")]
    if document.get("type") != "EPCISDocument":
        return [Problem(None, _("Only an EPCISDocument can be captured (type: EPCISDocument)."), "type")]
    events = (document.get("epcisBody") or {}).get("eventList") if isinstance(document.get("epcisBody"), dict) else None
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        return [Problem(None, _("At most %(n)s events can be captured at once; send the rest in another document.",
                                n=MAX_EVENTS), "epcisBody.eventList")]
    found: dict[Optional[int], Problem] = {}
    try:
        errors = sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    except RecursionError:
        return [Problem(None, _("The document is nested too deeply."), "body")]
    for error in errors:
        path = list(error.absolute_path)
        index = path[2] if len(path) > 2 and path[:2] == ["epcisBody", "eventList"] and isinstance(path[2], int) \
            else None
        if index in found:
            continue
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            path += missing[:1]
        detail = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        found[index] = Problem(index, _("Not valid against the EPCIS 2.0 JSON schema: %(detail)s", detail=detail),
                               path_text(path) or "body")
    return [found[key] for key in sorted(found, key=lambda k: -1 if k is None else k)]


@dataclass
class Incoming:
    """One event of the document as sent, with what capture needs before applying it."""

    index: int
    raw: dict
    event_id: str
    sha256: str
    at: datetime  # eventTime, aware, in the event's own time zone offset (eventTimeZoneOffset)

    @property
    def kind(self) -> str:
        return self.raw.get("type", "")

    def ext(self, name: str, default: Any = None) -> Any:
        """An extension property of this system (`gt:<name>`)."""
        return self.raw.get(EXT + name, default)


def fingerprint(event: dict) -> str:
    """SHA-256 of the event's canonical JSON (keys sorted, no spaces), recordTime and errorDeclaration left out."""
    content = {k: v for k, v in event.items() if k not in NOT_CONTENT}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def incoming(index: int, event: dict) -> Incoming:
    """The event's capture facts; ValidationError naming the field when its eventID or time cannot be used."""
    event_id = event.get("eventID")
    if not isinstance(event_id, str) or not event_id.strip():
        raise ValidationError(_("Give every event its eventID: it is what makes a repeated capture harmless."),
                              field="eventID")
    if len(event_id) > MAX_EVENT_ID or "\x00" in event_id:
        raise ValidationError(_("The eventID is longer than %(n)s characters.", n=MAX_EVENT_ID), field="eventID")
    instant, _offset = rules.parse_time(event.get("eventTime"), "eventTime")
    zone = zone_minutes(event.get("eventTimeZoneOffset"))
    local = instant.astimezone(timezone(timedelta(minutes=zone)))
    return Incoming(index, event, event_id, fingerprint(event), local)


def listed(value: Any) -> list:
    """A field that should be a list, as one (an event of a type the schema leaves open may hold anything)."""
    return value if isinstance(value, list) else []


def mapping(value: Any) -> dict:
    """A field that should be an object, as one."""
    return value if isinstance(value, dict) else {}


def zone_minutes(text: Any) -> int:
    """eventTimeZoneOffset (+08:00) in minutes east of UTC."""
    if not isinstance(text, str) or len(text) != 6 or text[0] not in "+-" or text[3] != ":" \
            or not (text[1:3] + text[4:]).isdigit():
        raise ValidationError(_("eventTimeZoneOffset must look like +08:00."), field="eventTimeZoneOffset")
    minutes = int(text[1:3]) * 60 + int(text[4:])
    return minutes if text[0] == "+" else -minutes


def iso_time(value: Any, field: str) -> datetime:
    """A time a document gives elsewhere (declarationTime): aware, UTC."""
    instant, _offset = rules.parse_time(value, field)
    return instant


# --- CBV vocabulary and identifiers ----------------------------------------------------------------

_CBV_PREFIXES = ("https://ref.gs1.org/cbv/BizStep-", "https://ref.gs1.org/cbv/Disp-", "https://ref.gs1.org/cbv/SDT-",
                 "https://ref.gs1.org/cbv/BTT-", "urn:epcglobal:cbv:bizstep:", "urn:epcglobal:cbv:disp:",
                 "urn:epcglobal:cbv:sdt:", "urn:epcglobal:cbv:btt:")


def vocab(value: Any) -> str:
    """A CBV term in its bare form: `shipping` for shipping, its GS1 Web URI or its URN."""
    if not isinstance(value, str):
        return ""
    for prefix in _CBV_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def last_segment(uri: Any, marker: str) -> Optional[str]:
    """The percent-decoded path segment after `/<marker>/` in a URI of any host (`/id/document/WB-1` → WB-1)."""
    if not isinstance(uri, str):
        return None
    path = urlsplit(uri).path if "://" in uri else uri
    key = f"/{marker}/"
    at = path.rfind(key)
    if at < 0:
        return None
    rest = path[at + len(key):].strip("/")
    return unquote(rest) if rest and "/" not in rest else None
