"""What the tracing API takes and answers: one pydantic model per shape, and how records become them.

Request bodies (`...Create`, `Body`) and query parameters (`...Query`) are validated by
`@operation` before the view runs; responses (`...Public`) are built here from the records and
serialised by `@operation`. The OpenAPI document is generated from these classes.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, get_type_hints

from pydantic import Field, WithJsonSchema, create_model, model_validator

from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.schemas import Body, Public, Query
from gi_trace.tracing import codes, lineage, quality, rules
from gi_trace.tracing.models import Batch, Event, PlausibilityFlag
from gi_trace.tracing.schemas_recall import RecallCreated, RecallState

# --- shared pieces ------------------------------------------------------------------------

TIME_DOC = "ISO 8601 with its offset, e.g. 2025-07-01T08:00:00+08:00 (default: now)"
# Checked by services.parse_location, which gives the precise message.
Location = Annotated[Any, WithJsonSchema({
    "anyOf": [{"type": "string"}, {"type": "object", "properties": {"town_code": {"type": "string"},
                                                                   "name": {"type": "string"}}},
              {"type": "null"}],
    "description": "A town code, a named place, or {town_code, name}"})]


def links(base_url: str, code: str) -> dict:
    """The public trace URL of a code and its QR images."""
    url = f"{base_url.rstrip('/')}/t/{code}"
    return {"trace_url": url, "qr_png_url": f"{url}/qr.png", "qr_svg_url": f"{url}/qr.svg"}


def _iso(value) -> Optional[str]:
    return value.isoformat() if value is not None else None


# --- batches and events (responses) -------------------------------------------------------

class BatchPublic(Public):
    """A batch with its trace and QR URLs."""

    code: str
    display_code: str
    trace_url: str
    qr_png_url: str
    qr_svg_url: str
    product: Optional[str]
    producer_id: int
    kind: Literal["harvest", "lot", "merged", "processed", "received", "purchased"]
    unit: str
    quantity_kg: float
    out_kg: float
    available_kg: float
    cultivar: str
    product_form: str
    producer_lot: Optional[str]
    trademark: Optional[str]
    stage: Optional[str]
    test_state: Literal["untested", "passed", "failed", "ungraded"]
    grade: Optional[str]
    grains_per_50g: Optional[int]
    origin_town_code: Optional[str]
    harvest_year: Optional[int]
    under_review: bool
    withdrawn: bool
    withdrawn_reason: Optional[str]
    event_count: int
    head_hash: str
    created_at: str

    @classmethod
    def fields_of(cls, batch: Batch, product_slug: Optional[str], base_url: str) -> dict:
        return dict(
            code=batch.code, display_code=codes.display(batch.code), **links(base_url, batch.code),
            product=product_slug, producer_id=batch.producer_id, kind=batch.kind, unit=batch.unit,
            quantity_kg=batch.quantity_kg, out_kg=batch.out_kg, available_kg=batch.available_kg,
            cultivar=batch.cultivar, product_form=batch.product_form, producer_lot=batch.producer_lot,
            trademark=batch.trademark_name or None, stage=batch.stage or None, test_state=batch.test_state,
            grade=batch.grade, grains_per_50g=batch.grains_per_50g, origin_town_code=batch.origin_town_code,
            harvest_year=batch.harvest_year, under_review=batch.under_review, withdrawn=batch.is_withdrawn,
            withdrawn_reason=batch.withdrawn_reason or None, event_count=batch.event_count,
            head_hash=batch.head_hash, created_at=batch.created_at.isoformat())

    @classmethod
    def of(cls, batch: Batch, product_slug: Optional[str], base_url: str) -> "BatchPublic":
        return cls(**cls.fields_of(batch, product_slug, base_url))


class EventLocation(Public):
    town_code: Optional[str]
    name: Optional[str]


class EventPublic(Public):
    """An event as recorded; times in the offset it was given in."""

    id: int
    seq: int
    stage: str
    occurred_at: str
    utc_offset_min: int
    location: EventLocation
    quantity_kg: Optional[float]
    data: dict[str, Any]
    op_id: Optional[str]
    recorded_by: Optional[int]
    recorded_at: str
    corrects_event_id: Optional[int]
    correction_reason: Optional[str]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: Event) -> "EventPublic":
        return cls(id=event.id, seq=event.seq, stage=event.stage,
                   occurred_at=rules.local_time(event.occurred_at, event.utc_offset_min).isoformat(),
                   utc_offset_min=event.utc_offset_min,
                   location=EventLocation(town_code=event.location_town_code, name=event.location_name or None),
                   quantity_kg=event.quantity_kg, data=event.data, op_id=event.op_id, recorded_by=event.recorded_by,
                   recorded_at=event.recorded_at.isoformat(), corrects_event_id=event.corrects_event_id,
                   correction_reason=event.correction_reason or None, prev_hash=event.prev_hash, hash=event.hash)


class FlagPublic(Public):
    """A plausibility flag (以地定产、以产核标)."""

    id: int
    kind: str
    message: str
    status: Literal["open", "cleared", "confirmed"]
    raised_at: str
    event_id: Optional[int]

    @classmethod
    def fields_of(cls, flag: PlausibilityFlag) -> dict:
        return dict(id=flag.id, kind=flag.kind, message=rules.flag_text(flag.kind, flag.params or {}),
                    status=flag.status, raised_at=flag.raised_at.isoformat(), event_id=flag.event_id)

    @classmethod
    def of(cls, flag: PlausibilityFlag) -> "FlagPublic":
        return cls(**cls.fields_of(flag))


class ReviewFlagPublic(FlagPublic):
    """A flag as regulators review it."""

    batch: str
    producer_id: int
    review_outcome: Optional[str]
    review_note: Optional[str]
    reviewed_at: Optional[str]

    @classmethod
    def of(cls, flag: PlausibilityFlag, batch_code: str) -> "ReviewFlagPublic":
        return cls(**FlagPublic.fields_of(flag), batch=batch_code, producer_id=flag.producer_id,
                   review_outcome=flag.review_outcome or None, review_note=flag.review_note or None,
                   reviewed_at=_iso(flag.reviewed_at))


class LabelPermissionPublic(Public):
    """Whether the batch may carry the GI label now, and why not."""

    allowed: bool
    code: str = Field(description="ok, withdrawn, recalled, not_authorised, test_failed, untested, origin_declared or "
                                  "origin_outside")
    reason: Optional[str]


class TestVerdictPublic(Public):
    """A batch's computed test verdict (tracing.quality.TestVerdict)."""

    __test__ = False

    state: Literal["passed", "cleared", "failed", "ungraded", "untested"]
    failures: list[str] = Field(description="Each failing item with its value and limit, e.g. 含水率 14.6% > 13%; "
                                            "a failure carried in from an input names the source batch")
    report_no: Optional[str]
    earlier_failures: list[str] = Field(description="For \"cleared\": what the first failing test found")
    earlier_report_no: Optional[str]
    cleared_by: Optional[Literal["retest", "regulator"]]
    legacy: bool = Field(description="An older test without measured values was recorded (it does not count as a "
                                     "pass)")

    @classmethod
    def of(cls, verdict: quality.TestVerdict) -> "TestVerdictPublic":
        return cls(state=verdict.state, failures=list(verdict.failures), report_no=verdict.report_no,
                   earlier_failures=list(verdict.earlier_failures), earlier_report_no=verdict.earlier_report_no,
                   cleared_by=verdict.cleared_by, legacy=verdict.legacy)


class TestResultPublic(Public):
    """One test judged: the computed verdict of its values against the limits in force on its sampling date."""

    __test__ = False

    state: Literal["passed", "failed", "ungraded", "untested"]
    failures: list[str]
    grade: Optional[str]
    limits_version: Optional[int] = Field(description="The product-limits version the test was judged against")
    limits_are_demo: bool
    lab_verdict: Optional[str]
    lab_verdict_note: Optional[str] = Field(description="Set when the lab's conclusion disagrees with the computed "
                                                        "verdict (which stands)")

    @classmethod
    def of(cls, data: dict) -> "TestResultPublic":
        outcome = quality.evaluate(data)
        failures = [quality.failure_text(f) for f in outcome.failures]
        if outcome.ungraded:
            failures.append(quality.ungraded_text(outcome.grains_per_50g, outcome.lowest_grade_max))
        limits = data.get("limits") or {}
        return cls(state=outcome.state, failures=failures, grade=outcome.grade["grade"] if outcome.grade else None,
                   limits_version=limits.get("version"), limits_are_demo=bool(limits.get("is_demo")),
                   lab_verdict=outcome.lab_verdict, lab_verdict_note=quality.lab_disagreement_text(outcome) or None)


class BatchDetail(BatchPublic):
    """A batch with its events, open flags, GI-label permission and test verdict."""

    events: list[EventPublic]
    flags: list[FlagPublic]
    label: LabelPermissionPublic
    test_verdict: TestVerdictPublic
    recall: Optional[RecallState] = Field(None, description="The batch's recall: in force, or lifted; absent "
                                                              "when the batch was never recalled")


class BatchList(Public):
    """The user's batches, newest first."""

    batches: list[BatchPublic]
    limit: int
    offset: int


class EventResult(Public):
    """The recorded event, the batch, the flags it raised and the batches a processing event made; for a test,
    its computed verdict (`test`) and the batch's verdict after it (`test_verdict`)."""

    event: EventPublic
    batch: BatchPublic
    flags: list[FlagPublic]
    children: list[BatchPublic]
    test: Optional[TestResultPublic] = None
    test_verdict: Optional[TestVerdictPublic] = None
    not_clearing: Optional[str] = Field(None, description="Set when a passing test leaves the batch failed: the "
                                                          "failures (naming a failed source batch) it cannot clear")


class LineageInput(Public):
    code: str
    quantity_kg: Optional[float]


class LineageResult(Public):
    """The new batches and what each input gave."""

    children: list[BatchPublic]
    inputs: list[LineageInput]


class Withdrawal(Public):
    """The withdrawal event, the batch, and the recall it started (everything made from the batch)."""

    event: EventPublic
    batch: BatchPublic
    recall: Optional[RecallCreated] = Field(None, description="The recall and how far it reached")


class FlagList(Public):
    """Flags, oldest first."""

    flags: list[ReviewFlagPublic]


# --- batches and events (requests) --------------------------------------------------------

class BatchCreate(Body):
    product: str = Field(GOJI_SLUG, description="Product slug")
    cultivar: Optional[str] = None
    trademark_id: Optional[int] = None
    producer_lot: Optional[str] = None
    product_line_id: Optional[int] = None
    quantity_kg: Optional[float] = Field(None, description="Harvested kg, if known now (0: not given)")


class EventCreate(Body):
    stage: str = Field(description="A stage of the product's template, e.g. planting, harvest, drying, testing, "
                                   "storage, processing, distribution")
    occurred_at: str = Field(description="ISO 8601 with its offset, e.g. 2025-07-01T08:00:00+08:00")
    quantity_kg: Optional[float] = None
    location: Location = None
    data: Optional[dict[str, Any]] = Field(None, description="The stage's fields (see the product's stage template)")
    corrects_event_id: Optional[int] = None
    correction_reason: Optional[str] = None


class Part(Body):
    quantity_kg: float
    producer_lot: Optional[str] = None


class SplitCreate(Body):
    parts: list[Part]
    occurred_at: Optional[str] = Field(None, description=TIME_DOC)
    location: Location = None


class BatchInput(Body):
    """An input batch: its code, and the kg taken (default: all it holds). A bare code is accepted too."""

    code: str
    quantity_kg: Optional[float] = Field(None, description="Default: all it holds")

    @model_validator(mode="before")
    @classmethod
    def _bare_code(cls, value: Any) -> Any:
        return {"code": value} if isinstance(value, str) else value


class MergeCreate(Body):
    inputs: list[BatchInput] = Field(min_length=1)
    producer_lot: Optional[str] = None
    occurred_at: Optional[str] = Field(None, description=TIME_DOC)
    location: Location = None


class Output(Body):
    quantity_kg: float
    product_form: Optional[str] = None
    producer_lot: Optional[str] = None


class ProcessCreate(Body):
    inputs: list[BatchInput] = Field(min_length=1)
    outputs: list[Output]
    product_form: Optional[str] = None
    process: Optional[str] = None
    occurred_at: Optional[str] = Field(None, description=TIME_DOC)
    location: Location = None


class ClearanceCreate(Body):
    reason: str = Field(description="Why the failure is cleared (recorded with the decision)")
    report_no: str = Field(description="The new test report the decision rests on")
    occurred_at: Optional[str] = Field(None, description=TIME_DOC)


class Clearance(Public):
    """The regulator's clearance event, the batch and its verdict after it."""

    event: EventPublic
    batch: BatchPublic
    test_verdict: TestVerdictPublic


class WithdrawCreate(Body):
    reason: str
    occurred_at: Optional[str] = Field(None, description=TIME_DOC)


class FlagReview(Body):
    outcome: Literal["cleared", "confirmed"]
    note: Optional[str] = None


class BatchListQuery(Query):
    limit: int = Field(50, description="At most 200")
    offset: int = 0


class FlagListQuery(Query):
    status: Literal["open", "cleared", "confirmed", "all"] = "open"
    limit: int = Field(100, description="At most 200")
    offset: int = 0


# --- traces, verification, EPCIS, the public view -----------------------------------------

class TraceOwner(Public):
    """Who holds a batch, as anyone may see it: a household by its town, a business by its registered name."""

    name: str
    kind: str


def _recalled_field():
    return Field(False, description="True while a recall is in force on the batch: withdrawn itself, or made from "
                                    "a withdrawn batch (tracing.recall)")


def _recall_field():
    return Field(None, description="The batch's recall (reason, date, the withdrawn batch it came from); absent when "
                                   "never recalled")


# A batch reached by a trace: the fields of lineage.Node, less its row id, its owner's public name, and its
# recall (`withdrawn` is the batch itself withdrawn; `recalled` also a batch made from a withdrawn one).
TraceNode = create_model("TraceNode", __base__=Public, __module__=__name__,
                         **{name: (kind, ...) for name, kind in get_type_hints(lineage.Node).items() if name != "id"},
                         owner=(Optional[TraceOwner], None), recalled=(bool, _recalled_field()),
                         recall=(Optional[RecallState], _recall_field()))


class TraceLink(Public):
    parent: str
    child: str
    quantity_kg: float
    kind: str


class TraceHarvest(Public):
    code: str
    town_code: Optional[str]
    town: Optional[str]
    plots: list[dict[str, Any]]


class Trace(Public):
    """The batches and links reached; backward traces name the harvests, plots and towns."""

    root: str
    direction: Literal["backward", "forward"]
    recalled: bool = _recalled_field()
    recall: Optional[RecallState] = _recall_field()
    batches: list[TraceNode]
    links: list[TraceLink]
    harvests: list[TraceHarvest]
    towns: list[str]


class TraceQuery(Query):
    direction: Literal["backward", "forward"] = "backward"


class Verify(Public):
    """Whether the batch's hash chain verifies."""

    code: str
    verifies: bool
    events: int
    broken_seq: Optional[int]
    reason: Optional[str]


class EPCISDocument(Public):
    """GS1 EPCIS 2.0 JSON-LD (validates against the EPCIS JSON schema)."""

    context: Any = Field(alias="@context")
    type: Literal["EPCISDocument"]
    schemaVersion: Literal["2.0"]
    epcisHeader: Optional[dict[str, Any]] = Field(
        None, description="Master data of the plots behind the batch, each with the season's input applications")
    epcisBody: dict[str, Any] = Field(description=(
        "eventList: eventIDs are urn:uuid (v5) of stored ids, the same in every export and on every host; one "
        "split, merge or processing is one TransformationEvent with all its inputs and outputs (ILMD: lot, "
        "harvest dates, origin towns); tests carry sensorElementList (UN/CEFACT P1, NA) and a testres "
        "bizTransaction; events of an authorised owner carry certificationInfo (its public register entry)"))


class EpcisQuery(Query):
    scope: Literal["batch", "backward"] = Field("batch", description="batch, or backward: every source's events too")


class ProductRef(Public):
    slug: str
    name_zh: str
    name_en: str


class ProducerRef(Public):
    name: str
    code: str


class AuthorisationState(Public):
    state: str
    since: Optional[str]


class TimelineStep(Public):
    seq: int
    stage: str
    stage_name: str
    occurred_at: str
    place: Optional[str]
    quantity_kg: Optional[float]
    corrected: bool
    facts: dict[str, Any]


class SourceBatch(Public):
    code: str
    town: Optional[str]
    harvest_year: Optional[int]


class UnitRef(Public):
    code: str
    serial: int


class PublicVerdict(Public):
    """The scan page's one headline (gi_trace.scan.verdict), for anyone reading the code by API."""

    state: Literal["sellable", "not_gi", "recalled", "suspicious"] = Field(
        description="sellable: a GI product that may be sold as such (the only green headline); not_gi: not to be "
                    "sold as a GI product; recalled; suspicious: a copied code or a record that does not verify")
    reasons: list[str] = Field(description="Every reason that applies, in the page's order: recalled, test_failed, "
                                           "test_ungraded, untested, not_authorised_when_made, not_authorised_today, "
                                           "origin_declared, origin_outside, record_broken, code_flagged")
    headline: str = Field(description="The headline as the scan page prints it, in the request's language")


class PublicTrace(Public):
    """What anyone may read about a code: product, producer, origin, tests, timeline, sources, integrity."""

    code: str
    display_code: str
    product: ProductRef
    producer: ProducerRef
    trademark: Optional[str]
    origin_town: Optional[str]
    kind: str
    product_form: str
    grade: Optional[str]
    test_state: str
    gi_label: LabelPermissionPublic
    authorisation: AuthorisationState
    withdrawn: bool
    withdrawn_reason: Optional[str]
    verifies: bool
    timeline: list[TimelineStep]
    sources: list[SourceBatch]
    source_towns: list[str]
    gi_mark: bool = Field(description="Whether the batch may carry the GI mark: its owner authorised, its test "
                                      "passed, and every kilogram traced to the protected towns")
    gi_mark_reason: Optional[str] = Field(description="Why not, when gi_mark is false (names the source batch "
                                                      "that breaks the origin)")
    unit: Optional[UnitRef] = Field(None, description="The package's unit code, when one was scanned")
    verdict: Optional[PublicVerdict] = Field(None, description="The scan page's headline for this code")
    recall: Optional[RecallState] = Field(None, description="The batch's recall (made from a withdrawn batch, or "
                                                            "withdrawn itself); absent when never recalled")


# --- the chain across owners: shipments and purchases -------------------------------------

class ShipmentPublic(Public):
    """A hand-over of kilograms of a batch from one party to another."""

    id: int
    status: Literal["in_transit", "received", "rejected"]
    from_: str = Field(alias="from", description="The sender's USCC or registry number")
    to: str = Field(description="The receiver's USCC or registry number")
    batch: str = Field(description="The shipped batch's code")
    quantity_kg: float
    shipped_at: str
    document_no: Optional[str]
    received_at: Optional[str]
    received_kg: Optional[float]
    loss_kg: Optional[float] = Field(description="Shipped minus received: lost in transit")
    received_batch: Optional[str] = Field(description="The receiver's new batch")
    rejected_at: Optional[str]
    reject_reason: Optional[str]
    purchase_id: Optional[int]


class ShipResult(Public):
    """The shipment, in transit, and the shipped batch."""

    shipment: ShipmentPublic
    batch: BatchPublic


class ReceiveResult(Public):
    """The receiver's new batch and the shipment."""

    batch: BatchPublic
    shipment: ShipmentPublic


class RejectResult(Public):
    """The refused shipment."""

    shipment: ShipmentPublic


class ShipmentList(Public):
    """The party's shipments, newest first."""

    shipments: list[ShipmentPublic]
    direction: Literal["in", "out"]


class PurchasePublic(Public):
    id: int
    seller: Optional[str] = Field(description="A registered seller's code")
    seller_name: Optional[str]
    town_code: Optional[str]
    quantity_kg: float
    grade: Optional[str]
    price_yuan_per_kg: Optional[float]
    purchased_at: str
    source_batch: Optional[str]
    origin: Literal["verified", "declared"] = Field(description="declared: bought from an unregistered seller, "
                                                                "origin not verified")


class PurchaseResult(Public):
    """The purchase and the buyer's new batch (and the shipment when a registered seller's batch gave it)."""

    purchase: PurchasePublic
    batch: BatchPublic
    shipment: Optional[ShipmentPublic] = None


class ShipCreate(Body):
    to: str = Field(description="The receiver's USCC or registry number")
    quantity_kg: float
    shipped_at: Optional[str] = Field(None, description=TIME_DOC)
    document_no: Optional[str] = Field(None, description="Waybill or invoice number")


class ReceiveCreate(Body):
    received_at: Optional[str] = Field(None, description=TIME_DOC)
    quantity_kg: Optional[float] = Field(None, description="What arrived (default: all that was shipped)")
    producer_lot: Optional[str] = None


class RejectCreate(Body):
    reason: str
    rejected_at: Optional[str] = Field(None, description=TIME_DOC)


class ShipmentListQuery(Query):
    direction: Literal["in", "out"] = "in"
    status: Optional[Literal["in_transit", "received", "rejected"]] = None
    limit: int = Field(50, description="At most 200")
    offset: int = 0


class PurchaseCreate(Body):
    seller: Optional[str] = Field(None, description="A registered seller's USCC or registry number")
    seller_name: Optional[str] = Field(None, description="An unregistered farmer's name")
    town_code: Optional[str] = Field(None, description="Where an unregistered farmer's goji grew")
    quantity_kg: float
    purchased_at: Optional[str] = Field(None, description=TIME_DOC)
    source_batch: Optional[str] = Field(None, description="The seller's batch code, if its package carries one")
    grade: Optional[str] = None
    price_yuan_per_kg: Optional[float] = None
    product: Optional[str] = Field(None, description="Product slug (default 中宁枸杞)")
    producer_lot: Optional[str] = None
