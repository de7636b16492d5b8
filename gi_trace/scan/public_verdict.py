"""The scan page's verdict for the public trace JSON (/api/v1/trace/<code>): the same evidence, the same rule.

The API view lives in tracing, below scan, so the app factory hands it `public_verdict`
(``app.extensions["tracing_public_verdict"]``). Evidence is read as the page reads it: the test and recall
adapters of scan.verdict, the producer's authorisation today and on the day the batch was made, the batch's
origin, the chain check of the record the page shows (the batch and its nearest ancestors), and the
counterfeit flag of the code asked for.
"""
from __future__ import annotations

from flask_babel import get_locale
from sqlmodel import Session, select

from gi_trace.authorisation.services import status
from gi_trace.registry.services import protected_towns
from gi_trace.scan import page_text, read_path, verdict
from gi_trace.scan.models import ScanCounter
from gi_trace.timeutil import local_today
from gi_trace.tracing import origin as origins
from gi_trace.tracing.models import Batch


def public_verdict(session: Session, batch: Batch, code: str) -> dict:
    """{"state", "reasons", "headline"} of the code's page (a batch's code or one of its unit codes)."""
    batch_of = lambda: (session, batch)  # noqa: E731 - the adapters' lazy loader, here already loaded
    test = verdict.test_evidence(batch_of)
    recall = verdict.recall_evidence(batch.withdrawn_at, batch.withdrawn_reason, batch_of)
    made_on = read_path.local_date(batch.first_event_at) or read_path.local_date(batch.created_at)
    found_origin = origins.origin_of(session, batch, protected_towns(session, batch.product_id))
    flagged = session.exec(select(ScanCounter.flagged).where(ScanCounter.code == code)).first()
    found = verdict.decide(verdict.Evidence(
        test=test, recall=recall,
        status_today=status(session, batch.producer_id, batch.product_id, local_today()),
        status_made=status(session, batch.producer_id, batch.product_id, made_on),
        origin_state=found_origin.state, origin_break=found_origin.break_code,
        record_verifies=read_path.read_record(session.connection(), batch.id).verifies,
        code_flagged=bool(flagged)))
    return {"state": found.state, "reasons": list(found.reasons),
            "headline": page_text.texts(str(get_locale())).headlines[found.state]}
