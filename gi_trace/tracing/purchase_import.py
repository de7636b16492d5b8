"""A day's purchases (收购) from a spreadsheet: `flask --app gi_trace import purchases FILE` and the upload page.

Columns: buyer, seller, seller_name, town_code, quantity_kg, purchased_at, source_batch (optional: grade,
price_yuan_per_kg). Every row goes through the same service as the purchase form (`transfers.purchase`),
each in a savepoint so that every bad row is named; the file is all-or-nothing: when any row is bad the
caller's unit of work rolls everything back.
"""
from __future__ import annotations

import re
from typing import Optional

from flask_babel import gettext as _
from sqlmodel import Session, or_, select

from gi_trace.accounts.models import User
from gi_trace.db import open_for_savepoints
from gi_trace.errors import DomainError, Forbidden
from gi_trace.registry.imports import ImportResult, RowProblem, read_table
from gi_trace.registry.imports.tables import Source
from gi_trace.registry.models import Producer
from gi_trace.tracing import transfers

KIND = "purchases"
REQUIRED = ("buyer", "seller", "seller_name", "town_code", "quantity_kg", "purchased_at", "source_batch")
OPTIONAL = ("grade", "price_yuan_per_kg")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$")


def _time(text: str) -> Optional[str]:
    """A spreadsheet's time as ISO 8601 with an offset: a bare date or local time is Beijing time."""
    text = text.strip()
    if not text:
        return None
    if _DATE.match(text):
        return f"{text}T08:00:00+08:00"
    if _LOCAL.match(text):
        return text.replace(" ", "T") + "+08:00"
    return text


def _number(text: str):
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # the service names the field and says it must be a number


def import_purchases(session: Session, user: Optional[User], source: Source, *, filename: Optional[str] = None,
                     dry_run: bool = False) -> ImportResult:
    """Record every row's purchase, or report every bad row; the caller commits only when `result.ok`."""
    result = ImportResult(kind=KIND, dry_run=dry_run)
    if user is not None and user.role != "producer":
        raise Forbidden(_("Purchases are recorded by the buying party's own account."))
    with read_table(source, filename) as table:
        names = [h.strip().lstrip("\ufeff").lower() for h in table.header]
        index = {name: i for i, name in reversed(list(enumerate(names)))}
        missing = [c for c in REQUIRED if c not in index]
        for column in missing:
            result.errors.append(RowProblem(1, column, _("Required column “%(column)s” is missing from the header "
                                                         "row.", column=column)))
        if missing:
            return result
        buyers: dict[str, Optional[User]] = {}
        open_for_savepoints(session)  # so that a bad file leaves nothing
        for number, values in table.rows():
            result.rows += 1
            cells = {c: (values[index[c]] or "").strip() if index.get(c) is not None and index[c] < len(values)
                     else "" for c in REQUIRED + OPTIONAL}
            buyer = _buyer(session, user, cells["buyer"], buyers)
            if buyer is None:
                result.errors.append(RowProblem(number, "buyer", _("The buyer must be your own party's credit code "
                                                                   "or registry number.") if user is not None else
                                                _("No registered party has the code %(code)s.",
                                                  code=cells["buyer"][:40])))
                continue
            data = transfers.PurchaseInput(
                quantity_kg=_number(cells["quantity_kg"]), seller=cells["seller"] or None,
                seller_name=cells["seller_name"], town_code=cells["town_code"] or None,
                purchased_at=_time(cells["purchased_at"]), source_batch=cells["source_batch"] or None,
                grade=cells["grade"], price_yuan_per_kg=_number(cells["price_yuan_per_kg"]))
            try:
                with session.begin_nested():  # a bad row is undone alone, so the next rows are checked as usual
                    transfers.purchase(session, buyer, data)
                result.inserted += 1
            except DomainError as exc:
                result.errors.append(RowProblem(number, exc.field or "", exc.message))
    if result.errors:
        result.inserted = 0
    else:
        result.written = not dry_run
    return result


def _buyer(session: Session, user: Optional[User], code: str, cache: dict) -> Optional[User]:
    """The account that records a row's purchase: the user itself (whose party must be the buyer), or, from
    the command line without --as, the buying party acting through the import (recorded by nobody)."""
    if code in cache:
        return cache[code]
    party = session.exec(select(Producer).where(or_(Producer.uscc == code.upper(),
                                                    Producer.registry_no == code))).first() if code else None
    found: Optional[User] = None
    if party is not None:
        if user is None:
            found = User(username="import", password_hash="!", role="producer", producer_id=party.id)
        elif user.producer_id == party.id:
            found = user
    cache[code] = found
    return found
