"""The complainant's status page: a complaint's reference opens its status (public, no personal data)."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from gi_trace.access import PUBLIC, access
from gi_trace.db import get_session
from gi_trace.scan import complaints as services
from gi_trace.timeutil import local_today

bp = Blueprint("complaint_status", __name__)
bp.add_app_template_global(services.reply_due, "complaint_reply_due")
bp.add_app_template_global(local_today, "complaint_today")
bp.add_app_template_global(services.where_bought, "complaint_where_bought")


@bp.get("/report/status")
@access(PUBLIC)
def status():
    """Type the reference number of a report: its status, when it was received and the reply date."""
    reference = services.normalise_reference(request.args.get("ref", ""))
    complaint = services.complaint_by_reference(get_session(), reference) if reference else None
    status_code = 404 if reference and complaint is None else 200
    return render_template("oversight/complaint_status.html", reference=reference, complaint=complaint,
                           due=services.reply_due(complaint.created_at) if complaint else None,
                           hotline=services.HOTLINE), status_code
