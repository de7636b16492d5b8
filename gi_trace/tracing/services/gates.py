"""The gates a batch passes: the producer's authorisation to use the GI mark, and the GI-label gate."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from flask_babel import gettext as _
from sqlmodel import Session

from gi_trace import formatting as fmt
from gi_trace.authorisation import rules as auth_rules
from gi_trace.authorisation.services import status as authorisation_status
from gi_trace.errors import Refused
from gi_trace.registry.models import Product
from gi_trace.registry.services import protected_towns
from gi_trace.timeutil import local_today
from gi_trace.tracing import origin as origins
from gi_trace.tracing import quality
from gi_trace.tracing import recall as recalls
from gi_trace.tracing.models import Batch


def authorisation_refusal(status: auth_rules.Status, product: Product) -> Optional[str]:
    """Why a producer may not use the product's GI mark on a status, or None when it may."""
    if status.state == auth_rules.AUTHORISED:
        return None
    name = fmt.name(product)
    since = fmt.day(status.since) if status.since else ""
    if status.state == auth_rules.SUSPENDED:
        return _("Your authorisation to use the %(product)s GI mark is suspended since %(since)s: %(reason)s",
                 product=name, since=since, reason=status.reason or "-")
    if status.state == auth_rules.REVOKED:
        return _("Your authorisation to use the %(product)s GI mark was revoked on %(since)s: %(reason)s",
                 product=name, since=since, reason=status.reason or "-")
    if status.state == auth_rules.EXPIRED:
        until = fmt.day(status.valid_until) if status.valid_until else since
        return _("Your authorisation to use the %(product)s GI mark expired after %(until)s; apply to renew it.",
                 product=name, until=until)
    if status.state == auth_rules.PENDING:
        return _("Your application to use the %(product)s GI mark (%(since)s) is still pending.",
                 product=name, since=since)
    if status.state == auth_rules.REJECTED:
        return _("Your application to use the %(product)s GI mark was rejected on %(since)s.",
                 product=name, since=since)
    return _("Your business has not applied for authorisation to use the %(product)s GI mark.", product=name)


def recall_refusal(session: Session, batch: Batch) -> Optional[str]:
    """Why a batch under a recall may not be sold, labelled, shipped or used, or None when it is not recalled."""
    info = recalls.active_recall(session, batch)
    if info is None:
        return None
    if info.source:
        return _("Batch %(code)s has been recalled (%(date)s): %(reason)s",
                 code=batch.code, date=fmt.day(info.recalled_at), reason=info.reason or "-")
    return _("Batch %(code)s is recalled with batch %(source)s, from which it was made (%(date)s): %(reason)s",
             code=batch.code, source=info.source_code, date=fmt.day(info.recalled_at), reason=info.reason or "-")


def require_not_recalled(session: Session, batch: Batch, field: Optional[str] = None) -> None:
    """Refused, naming the recall, while the batch is under a recall in force."""
    refusal = recall_refusal(session, batch)
    if refusal:
        raise Refused(refusal, field=field, code="recalled")


# Stages that hand goods on (a sale, a shipment to a buyer): behind the same gate as making batches.
GOODS_MOVING_STAGES = ("distribution",)


def require_authorised(session: Session, producer_id: int, product: Product, on: Optional[date] = None) -> None:
    """Refused, naming the reason, unless the producer's authorisation is in force (today by default).

    The one authorisation gate: every operation that creates a batch or moves goods passes it (open,
    split, merge, processing, distribution, unit codes and labels via `label_allowed`), whatever route
    (API, portal, CLI) calls it.
    """
    status = authorisation_status(session, producer_id, product.id, on or local_today())
    reason = authorisation_refusal(status, product)
    if reason:
        raise Refused(reason, field="product", code=f"authorisation_{status.state}")


@dataclass(frozen=True)
class LabelPermission:
    """Whether a batch may carry the GI label now, and why not."""

    allowed: bool
    # ok, withdrawn, recalled, not_authorised, origin_declared, origin_outside, test_failed, ungraded, untested
    code: str
    reason: str = ""


def label_allowed(session: Session, batch: Batch) -> LabelPermission:
    """No unit codes, label sheets or "passed" page unless the latest test passed, the batch is not
    withdrawn, the producer's authorisation is in force today and every kilogram's origin is verified."""
    if batch.is_withdrawn:
        return LabelPermission(False, "withdrawn", _("The batch has been withdrawn: %(reason)s",
                                                     reason=batch.withdrawn_reason or "-"))
    refusal = recall_refusal(session, batch)
    if refusal:
        return LabelPermission(False, "recalled", refusal)
    product = session.get(Product, batch.product_id)
    status = authorisation_status(session, batch.producer_id, product.id, local_today())
    refusal = authorisation_refusal(status, product)
    if refusal:
        return LabelPermission(False, "not_authorised", refusal)
    found = origins.origin_of(session, batch, protected_towns(session, batch.product_id))
    if not found.verified:
        return LabelPermission(False, f"origin_{found.state}", origins.reason(found, batch.code))
    verdict = quality.test_verdict(session, batch)
    if verdict.state == quality.FAILED:
        return LabelPermission(False, "test_failed", _("Test failed: %(failures)s. It may not carry the GI label until "
                                                       "the failure is cleared.", failures="; ".join(verdict.failures)))
    if verdict.state == quality.UNGRADED:
        return LabelPermission(False, "ungraded", _("Below the lowest grade (%(why)s): it may not carry the GI label.",
                                                    why="; ".join(verdict.failures)))
    if not verdict.sellable:
        if verdict.legacy:
            return LabelPermission(False, "untested", _("Only an older test without measured values is recorded; "
                                                        "record a test with measured values (合格证)."))
        return LabelPermission(False, "untested", _("No passing test (合格证) has been recorded for this batch yet."))
    return LabelPermission(True, "ok")


def require_label_allowed(session: Session, batch: Batch) -> None:
    """Refused with the reason unless the batch may carry the GI label."""
    permission = label_allowed(session, batch)
    if not permission.allowed:
        raise Refused(permission.reason, code=f"label_{permission.code}")
