"""Recalls for regulators: the list, one recall's affected batches (sortable), its spreadsheet, and lifting a
recall from a descendant with the reason."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from gi_trace.access import access, actor
from gi_trace.db import get_session
from gi_trace.extensions import export_limit, limiter, user_key
from gi_trace.oversight import recalls as r
from gi_trace.tracing import codes, services
from gi_trace.web.forms import attempt

bp = Blueprint("oversight_recalls", __name__, url_prefix="/oversight")

PAGE_ROWS = 500  # the page shows this many; the spreadsheet has them all


class LiftForm(FlaskForm):
    """Lift the recall from a batch made from the recalled one (shown not to contain the recalled input)."""

    code = StringField(_l("Trace code of the batch"), validators=[InputRequired(), Length(max=40)])
    reason = TextAreaField(_l("Why does the recall not apply to it?"), validators=[InputRequired(), Length(max=1000)])


@bp.get("/recalls")
@access("regulator", "admin")
def recalls():
    """Every recall the regulator may open, newest first."""
    rows = r.recalls_for(get_session(), actor())
    return render_template("oversight/recalls.html", recalls=rows, display=codes.display)


def _sort() -> tuple[str, bool]:
    key = request.args.get("sort") or "status"
    if key not in r.SORT_KEYS:
        key = "status"
    return key, request.args.get("desc") == "1"


@bp.route("/recalls/<int:recall_id>", methods=["GET", "POST"])
@access("regulator", "admin")
def recall_detail(recall_id: int):
    """One recall: every affected batch with owner, kg on hand, shipped to whom and when, unit codes issued."""
    session = get_session()
    user = actor()
    recall = r.visible_recall(session, user, recall_id)
    form = LiftForm()
    if form.validate_on_submit():
        def lift():
            batch = services.visible_batch(session, user, form.code.data)
            return batch, services.lift_recall(session, user, batch, form.reason.data)
        done = attempt(form, lift, fallback="code")
        if done:
            flash(_("Recall lifted from batch %(code)s.", code=codes.display(done.value[0].code)), "success")
            return redirect(url_for("oversight_recalls.recall_detail", recall_id=recall.id))
    county = None if user.role == "admin" or user.county_code is None else user.county_code
    key, descending = _sort()
    rows = r.sort_rows(r.affected(session, recall, county), key, descending)
    return render_template("oversight/recall_detail.html", recall=recall, rows=rows[:PAGE_ROWS], total=len(rows),
                           sort=key, desc=descending, form=form, county=county, display=codes.display,
                           recalled=sum(1 for x in rows if not x.lifted),
                           on_hand=sum(x.on_hand_kg for x in rows if not x.lifted),
                           units=sum(x.units for x in rows if not x.lifted))


@bp.get("/recalls/<int:recall_id>.<any(csv, xlsx):fmt>")
@access("regulator", "admin")
@limiter.limit(export_limit, key_func=user_key)
def recall_export(recall_id: int, fmt: str):
    """The affected batches as a sortable spreadsheet (FSMA 204)."""
    session = get_session()
    user = actor()
    recall = r.visible_recall(session, user, recall_id)
    county = None if user.role == "admin" or user.county_code is None else user.county_code
    body = r.export(session, recall, fmt, r.affected(session, recall, county))
    mimetype = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="recall-{recall.source_code}.{fmt}"',
        "Cache-Control": "private, no-store"})
