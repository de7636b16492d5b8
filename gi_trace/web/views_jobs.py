"""A long job's progress and result, for the person who asked (gi_trace.jobs): poll, then download.

`/jobs/<id>` is a page that reloads itself every two seconds while the job runs (no script), or JSON
for API clients and scripts (`Accept: application/json`); `/jobs/<id>/result` downloads the result.
Another user's job is a 404, except for administrators.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template, url_for

from flask_babel import gettext as _

from gi_trace.access import ANY_USER, access, actor
from gi_trace.db import get_session
from gi_trace.errors import NotFound, wants_json
from gi_trace.jobs import job_label
from gi_trace.jobs.models import Job

bp = Blueprint("jobs", __name__)


def _own_job(job_id: int) -> Job:
    user = actor()
    job = get_session().get(Job, job_id)
    if job is None or (job.requested_by != user.id and user.role != "admin"):
        raise NotFound(_("No such job."))
    return job


def job_json(job: Job) -> dict:
    """What a client polling a job needs: status, progress, the error or where the result is."""
    return {"id": job.id, "kind": job.kind, "status": job.status, "done": job.done, "total": job.total,
            "error": job.error or None,
            "result_url": url_for("jobs.result", job_id=job.id) if job.status == "done" else None}


@bp.get("/jobs/<int:job_id>")
@access(*ANY_USER)
def progress(job_id: int):
    """How far a job is; when done, a link to its result."""
    job = _own_job(job_id)
    if wants_json():
        return job_json(job)
    status_text = {"queued": _("Waiting to start."), "running": _("Working on it: this page updates itself."),
                   "done": _("Ready."), "failed": _("This job failed.")}[job.status]
    back = (job.params or {}).get("back_url") or ""
    back = back if back.startswith("/") and not back.startswith("//") else ""  # a path of this site only
    return render_template("jobs/progress.html", job=job, running=job.status in ("queued", "running"),
                           label=job_label(job.kind), status_text=status_text, back_url=back)


@bp.get("/jobs/<int:job_id>/result")
@access(*ANY_USER)
def result(job_id: int):
    """Download a finished job's result."""
    job = _own_job(job_id)
    if job.status != "done" or job.result is None:
        raise NotFound(_("This job has no result (yet)."))
    name = job.result_name or f"job-{job.id}"
    return Response(job.result, mimetype=job.result_mime or "application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename=\"{name}\""})
