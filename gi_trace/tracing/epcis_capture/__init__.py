"""EPCIS 2.0 capture: a party's own system (ERP, MES) sends its events instead of retyping them.

`POST /api/v1/epcis/capture` (tracing.api_capture) takes an EPCISDocument (JSON-LD, application/ld+json or
application/json) with a producer's or trader's API token and records its events against that party's batches:

1. The body is bounded (EPCIS_CAPTURE_MAX_BYTES, 4 MiB: 413) and must be JSON (400); the document must follow the
   EPCIS 2.0 JSON schema (`EPCIS-JSON-Schema.json`, vendored: see SCHEMA_ORIGIN.md) and hold at most 2,000 events.
2. Each event must carry an eventID. An eventID captured before with the same content (its canonical JSON less
   recordTime and errorDeclaration) is "already captured" and changes nothing; with other content it is refused.
   This system's own events sent back (its export) are recognised and never recorded twice.
3. Each event is mapped to the operation the portal and the JSON API offer (apply, chain_ops) and goes through
   the same service, so every rule applies: mass balance, stage order, the GI authorisation (an event carrying
   certificationInfo also needs its owner authorised on the event's day), ownership (a party records only against
   its own batches and product lines), recalls and withdrawals, product limits, safety intervals.

   ObjectEvent OBSERVE, gt:stage planting ........... planting (the first event of a batch may open it)
   ObjectEvent ADD commissioning, quantityList ........ harvest (readPoint: the plot; may open the batch)
   TransformationEvent, gt:stage drying ............... drying (fresh class → the batch's class)
   ObjectEvent OBSERVE inspecting ..................... test: sensorElementList values + testres report
   ObjectEvent OBSERVE storing / transporting ......... storage and transport (gt:carrier when moving)
   ObjectEvent OBSERVE shipping, no destinationList ... distribution (sale to someone not registered)
   ObjectEvent OBSERVE holding, recalled .............. withdrawal (a recall of everything made from it)
   TransformationEvent, gt:stage split|merge|processing  one lineage operation (without gt:stage: repackaging
                                                        = split, commissioning = merge, or processing when a
                                                        product form is given)
   ObjectEvent ADD commissioning, epcList ............. unit codes (一物一码) issued with the codes named
   AggregationEvent ADD packing ....................... those packages packed into their lot
   ObjectEvent OBSERVE shipping + source/destination .. a shipment by its sender; sent by the receiver together
                                                        with its receiving event at the same time: a purchase
   ObjectEvent OBSERVE receiving (in_progress) ........ the receipt of a shipment in transit (by waybill)
   ObjectEvent OBSERVE receiving, returned ............ goods refused at intake (gt:reason)
   ObjectEvent ADD receiving, gt:stage purchase ........ a purchase from a farmer not registered here: a new batch
                                                        of declared origin (ilmd gt:declaredTown; no seller party,
                                                        the name only as gt:sellerName if the buyer sends it)
   ObjectEvent OBSERVE holding, gt:withdrawnBatch ..... a member's recall event: already recorded once the
                                                        withdrawal it derives from is (refused while it is not)
   any stage event with gt:corrects (+ the corrected event's errorDeclaration) ... a correction: a new event,
                                                        nothing edited
   Anything else (a regulator's clearance or recall lift, other event types or actions) is refused with the
   reason.
4. Identification (identify): the party's GTIN + lot (Digital Link `/01/<gtin14>/10/<lot>` of its own product
   line, any host) or a trace code (`/t/<code>`, `/id/batch/<code>[/fresh]`, or the bare code). A class naming
   a trace code not in use yet creates the batch with that code (when the check character is right), so an
   export can be captured into an empty database and export again the same.
5. All or nothing (capture): every event runs in a savepoint; if any is refused, nothing is written and the 422
   answer lists every refused event (index, eventID, message, field) in the request's language.

What each eventID created is kept (models_capture), and the export gives captured events the eventIDs they were
sent with; this system's own events keep their name-based ids.
"""
from gi_trace.tracing.epcis_capture.capture import ALREADY, CAPTURED, CaptureRefused, EventResult, Result, capture
from gi_trace.tracing.epcis_capture.parse import DEFAULT_MAX_BYTES, BadBody, read_json

__all__ = ["ALREADY", "CAPTURED", "DEFAULT_MAX_BYTES", "BadBody", "CaptureRefused", "EventResult", "Result", "capture",
           "read_json"]
