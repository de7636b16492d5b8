"""Tracing lookups and who may see or change what: a batch by its code, visible to a user, owned by a producer."""
from __future__ import annotations

from typing import Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Forbidden, NotFound
from gi_trace.registry.models import Producer
from gi_trace.tracing import codes
from gi_trace.tracing.models import Batch


def batch_by_code(session: Session, text: str) -> Batch:
    """The batch with this trace code; a malformed code is refused before any database lookup."""
    code = codes.parse(text or "")
    if code is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=(text or "")[:40]), field="code")
    batch = session.exec(select(Batch).where(Batch.code == code)).first()
    if batch is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=code), field="code")
    return batch


def can_see_batch(user: Optional[User], batch: Batch, producer: Optional[Producer] = None) -> bool:
    """Admins and city regulators see every batch, county regulators their county's, producers their own."""
    if user is None:
        return False
    if user.role == "admin":
        return True
    if user.role == "producer":
        return user.producer_id == batch.producer_id
    if user.role == "regulator":
        return user.county_code is None or (producer is not None and producer.county_code == user.county_code)
    return False


def visible_batch(session: Session, user: Optional[User], text: str) -> Batch:
    """A batch the user may see; another producer's batch is NotFound (its existence is not revealed)."""
    batch = batch_by_code(session, text)
    producer = session.get(Producer, batch.producer_id)
    if not can_see_batch(user, batch, producer):
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    return batch


def own_batch(session: Session, user: Optional[User], text: str) -> Batch:
    """A batch of the user's own business, for changes; any other batch is NotFound."""
    batch = batch_by_code(session, text)
    if user is None or user.role != "producer" or user.producer_id != batch.producer_id:
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    return batch


MAX_ID = 2**31 - 1  # integer primary keys; a larger number overflows the database driver


def _get(session: Session, model, ident: Optional[int]):
    """session.get for an id from user input: None for anything that cannot be a row id."""
    if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident <= MAX_ID:
        return None
    return session.get(model, ident)


def _require_producer(user: Optional[User]) -> int:
    if user is None or user.role != "producer" or user.producer_id is None:
        raise Forbidden(_("Only a producer account can record batches."))
    return user.producer_id


def _require_owner(user: Optional[User], batch: Batch) -> None:
    if user is None or user.role != "producer" or user.producer_id != batch.producer_id:
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
