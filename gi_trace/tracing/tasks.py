"""The tracing area's long jobs (gi_trace.jobs): label sheets of more than 500 labels.

A PDF or ZIP of up to 10,000 labels takes tens of seconds to draw; the request checks everything at once
(the batch is the producer's, may carry the GI label, the unit codes exist, copies fit the batch's
kilograms) and a job draws the file with a progress page and a download. Copies of a batch label are
counted against the batch when the file is ready, in a short transaction that checks the kilograms again;
unit codes were counted when they were issued.
"""
from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from gi_trace import jobs
from gi_trace.accounts.models import User
from gi_trace.db import session_scope
from gi_trace.errors import Conflict, NotFound
from gi_trace.jobs.models import Job
from gi_trace.tracing import labels
from gi_trace.tracing.models import Batch

LABEL_SHEET = "labels.sheet"
MAX_WAITING_PER_USER = 2  # label sheets a producer may have queued or running at once
FORMATS = {"pdf": ("application/pdf", labels.pdf_sheet), "zip": ("application/zip", labels.zip_sheet)}


def start_sheet(session: Session, user: User, batch: Batch, base_url: str, *, kind: str, start: int, count: int,
                fmt: str, back_url: str) -> Job:
    """Check a big sheet now (every rule, nothing recorded) and queue the job that draws it."""
    labels.build_sheet(session, user, batch, base_url, kind=kind, start=start, count=count,
                       limit=labels.MAX_LABELS_PER_JOB, record=False)
    waiting = session.exec(select(Job.id).where(Job.requested_by == user.id, Job.kind == LABEL_SHEET,
                                                Job.status.in_(("queued", "running")))).all()
    if len(waiting) >= MAX_WAITING_PER_USER:
        raise Conflict(_("%(n)s label sheets of yours are still being made; download them before asking for "
                         "more.", n=len(waiting)))
    return jobs.start(session, LABEL_SHEET, user.id, {
        "batch": batch.code, "kind": kind, "start": start, "count": count, "format": fmt,
        "base_url": base_url, "back_url": back_url}, total=count)


def _sheet(session: Session, context: jobs.JobContext, record: bool) -> labels.Sheet:
    p = context.params
    user = session.get(User, context.requested_by) if context.requested_by else None
    batch = session.exec(select(Batch).where(Batch.code == p["batch"])).first()
    if user is None or batch is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=p["batch"]))
    return labels.build_sheet(session, user, batch, p["base_url"], kind=p["kind"], start=int(p["start"]),
                              count=int(p["count"]), limit=labels.MAX_LABELS_PER_JOB, record=record)


def label_sheet(context: jobs.JobContext) -> jobs.Result:
    """Draw the sheet (the batch is checked again: a batch recalled or failed since is refused)."""
    p = context.params
    mime, render = FORMATS[p["format"]]
    with session_scope(context.app) as session:  # reads only: no lock is held while drawing
        sheet = _sheet(session, context, record=False)
    context.progress(0, sheet.count)
    data = render(sheet, lambda done: context.progress(done, sheet.count))
    if p["kind"] == "batch":
        with session_scope(context.app) as session:  # the copies count against the batch now
            _sheet(session, context, record=True)
    name = f"labels-{sheet.batch_code}-{p['kind']}-{p['start']}.{p['format']}"
    return jobs.Result(data, name, mime)


def register(app: Flask) -> None:
    jobs.register_job(app, LABEL_SHEET, label_sheet, label=_l("Label sheet"))
