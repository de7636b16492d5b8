"""Recall export: everything upstream and downstream of a batch as a sortable CSV and XLSX."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from gi_trace.access import access, actor
from gi_trace.db import get_session
from gi_trace.extensions import export_limit, limiter, user_key
from gi_trace.oversight import recall as r

bp = Blueprint("oversight_recall", __name__, url_prefix="/oversight")
bp.add_app_template_global(r.direction_label, "recall_direction_label")

PREVIEW_ROWS = 300


@bp.get("/recall")
@access("regulator", "admin")
def recall():
    """Look up a batch by its code and preview its recall rows."""
    code = (request.args.get("code") or "").strip()
    batch, rows = None, []
    if code:
        session = get_session()
        batch = r.find_batch(session, actor(), code)
        rows = r.readable_rows(session, r.recall_rows(session, batch))
    return render_template("oversight/recall.html", code=code, batch=batch, rows=rows[:PREVIEW_ROWS], total=len(rows),
                           labels=r.column_labels(), columns=[k for k, _l in r.COLUMNS])


@bp.get("/recall/<code>.<any(csv, xlsx):fmt>")
@access("regulator", "admin")
@limiter.limit(export_limit, key_func=user_key)
def recall_file(code: str, fmt: str):
    """The recall rows of a batch as a file to hand over."""
    session = get_session()
    batch = r.find_batch(session, actor(), code)
    rows = r.readable_rows(session, r.recall_rows(session, batch))
    labels = r.column_labels()
    name = f"recall-{batch.code}.{fmt}"
    if fmt == "csv":
        body, mimetype = r.to_csv(rows, labels), "text/csv; charset=utf-8"
    else:
        body = r.to_xlsx(rows, labels, title=batch.code)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                      "Cache-Control": "private, no-store"})
