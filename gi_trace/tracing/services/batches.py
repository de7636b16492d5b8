"""Opening a harvest batch: its trace code, lot number, trademark and product line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Refused, ValidationError
from gi_trace.observability import metrics
from gi_trace.registry.models import Product, Trademark
from gi_trace.tracing import codes, gs1, rules
from gi_trace.tracing.models import BATCH_KINDS, Batch, ProductLine, UnitCode
from gi_trace.tracing.services.gates import require_authorised
from gi_trace.tracing.services.ledger import _flush
from gi_trace.tracing.services.visibility import _get, _require_producer


@dataclass
class BatchInput:
    """What a producer gives to open a harvest batch."""

    product_slug: str = ""
    cultivar: str = ""
    trademark_id: Optional[int] = None
    producer_lot: Optional[str] = None
    product_line_id: Optional[int] = None
    quantity_kg: Optional[float] = None


def _new_code(session: Session) -> str:
    for _attempt in range(5):
        code = codes.new_code()
        if session.exec(select(Batch.id).where(Batch.code == code)).first() is None:
            return code
    raise Conflict(_("Could not find a free trace code; try again."))  # pragma: no cover - 64 random bits


def claim_code(session: Session, text: str, field: str = "code") -> str:
    """A trace code the caller names (an EPCIS document being captured names its batches): well-formed, with its
    check character, and used by no batch and no unit code yet."""
    code = codes.parse(text) if isinstance(text, str) else None
    if code is None:
        raise ValidationError(_("%(code)s is not a well-formed trace code (13 characters and a check character).",
                                code=str(text)[:40]), field=field)
    if session.exec(select(Batch.id).where(Batch.code == code)).first() is not None or \
            session.exec(select(UnitCode.id).where(UnitCode.code == code)).first() is not None:
        raise Conflict(_("Trace code %(code)s is already in use.", code=code), field=field, code="code_in_use")
    return code


def _check_lot(session: Session, producer_id: int, lot: Optional[str]) -> Optional[str]:
    if lot is None:
        return None
    if not isinstance(lot, str) or len(lot.strip()) > 40:
        raise ValidationError(_("The lot number must be text of at most 40 characters."), field="producer_lot")
    lot = rules.no_nul(lot, "producer_lot").strip() or None
    problem = gs1.lot_problem(lot) if lot else None
    if problem:
        # The lot is the (10) of the batch's Digital Link: only what AI 10 allows and a URI needs no escape for.
        raise ValidationError(problem, field="producer_lot")
    if lot and session.exec(select(Batch.id).where(Batch.producer_id == producer_id,
                                                   Batch.producer_lot == lot)).first():
        raise Conflict(_("You already have a batch with lot number %(lot)s.", lot=lot), field="producer_lot")
    return lot


def open_batch(session: Session, user: User, product: Product, data: BatchInput, *, code: Optional[str] = None) -> Batch:
    """Open a harvest batch for the user's business; only while its authorisation is in force. `code`: the trace
    code a captured EPCIS document names for it (see `claim_code`), else a new random one."""
    producer_id = _require_producer(user)
    require_authorised(session, producer_id, product)
    if data.quantity_kg:
        raise Refused(_("A new batch holds nothing yet: its quantity comes from the harvests recorded on it, or "
                        "from the batches it is split, merged or processed from (no quantity from nothing)."),
                      field="quantity_kg", code="quantity_from_nothing")
    trademark_name = ""
    if data.trademark_id is not None:
        trademark = _get(session, Trademark, data.trademark_id)
        if trademark is None or trademark.producer_id != producer_id:
            raise ValidationError(_("Choose one of your own registered trademarks."), field="trademark_id")
        trademark_name = trademark.name
    if data.product_line_id is not None:
        line = _get(session, ProductLine, data.product_line_id)
        if line is None or line.producer_id != producer_id or line.product_id != product.id:
            raise ValidationError(_("Choose one of your own product lines of this product."), field="product_line_id")
    if not isinstance(data.cultivar, str) or len(data.cultivar) > 64:
        raise ValidationError(_("The cultivar must be text of at most 64 characters."), field="cultivar")
    rules.no_nul(data.cultivar, "cultivar")
    batch = Batch(
        code=_new_code(session) if code is None else claim_code(session, code), producer_id=producer_id,
        product_id=product.id, kind="harvest",
        unit=product.unit or "kg", cultivar=data.cultivar.strip(), trademark_id=data.trademark_id,
        trademark_name=trademark_name, product_form=rules.FRESH,
        producer_lot=_check_lot(session, producer_id, data.producer_lot), product_line_id=data.product_line_id,
        created_by=user.id,
    )
    session.add(batch)
    _flush(session)
    metrics.wrote(session, "batch")
    return batch


def batch_kinds() -> tuple[str, ...]:
    return BATCH_KINDS
