"""The oversight area's long jobs (gi_trace.jobs): issuing an annual report.

Issuing renders the report in two languages and two PDFs, which takes seconds to tens of seconds on a
city's data; a web worker must not be held that long. The page checks what can be checked at once
(issued already, document number missing) and queues the rest; the person who asked follows the
job's progress page and downloads the issued PDF from it.
"""
from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from gi_trace import jobs
from gi_trace.accounts.models import User
from gi_trace.db import session_scope
from gi_trace.errors import NotFound
from gi_trace.oversight import report_document as doc
from gi_trace.timeutil import local_today

ISSUE_REPORT = "report.issue"


def issue_report(context: jobs.JobContext) -> jobs.Result:
    """Freeze a draft version (figures, HTML, PDFs with their hash); the result is the Chinese PDF."""
    context.progress(0, 1)
    with session_scope(context.app) as session:
        user = session.get(User, context.requested_by) if context.requested_by else None
        if user is None:
            raise NotFound(_("The person who asked for this no longer exists."))
        version = doc.get_version(session, user, int(context.params["version_id"]))
        doc.issue(session, user, version, today=local_today())
        name, pdf = f"gi-report-{version.year}-v{version.version}.pdf", version.pdf_zh
    return jobs.Result(pdf, name, "application/pdf")


def register(app: Flask) -> None:
    jobs.register_job(app, ISSUE_REPORT, issue_report, label=_l("Issuing the annual report"))
