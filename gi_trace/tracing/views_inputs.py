"""Producer portal: my plots, and the inputs (施肥, 用药) recorded on each, per season; a correction
supersedes a record. Phone-first: one column of fields, refusals beside the field they concern."""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange
from wtforms.validators import Optional as Opt

from gi_trace import formatting as fmt
from gi_trace.access import access, actor
from gi_trace.db import get_session
from gi_trace.errors import NotFound
from gi_trace.registry.models import Producer
from gi_trace.registry.services import region_names
from gi_trace.timeutil import local_today
from gi_trace.tracing.models_inputs import INPUT_KINDS, PlotInput
from gi_trace.tracing.services import inputs
from gi_trace.web.forms import WholeNumberField, attempt

bp = Blueprint("inputs", __name__)


class InputForm(FlaskForm):
    """One application on a plot (or the correction of one)."""

    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    product_name = StringField(_l("Product name"), validators=[InputRequired(), Length(max=200)])
    registration_no = StringField(_l("Pesticide registration no. (农药登记证号)"), validators=[Length(max=32)])
    active_ingredient = StringField(_l("Active ingredient"), validators=[Length(max=200)])
    dose = StringField(_l("Dose"), validators=[InputRequired(), Length(max=100)])
    applied_on = DateField(_l("Date applied"), validators=[InputRequired()])
    safety_interval_days = WholeNumberField(_l("Safety interval (days)"), validators=[Opt(), NumberRange(min=0, max=365)])
    applied_by = StringField(_l("Applied by"), validators=[Length(max=100)])
    supersedes = HiddenField()
    correction_reason = TextAreaField(_l("Why is the earlier record corrected?"), validators=[Length(max=1000)])


def _form(formdata=None, **kwargs) -> InputForm:
    form = InputForm(formdata=formdata, **kwargs) if formdata is not None else InputForm(**kwargs)
    form.kind.choices = [(k, fmt.label("input_kind", k)) for k in INPUT_KINDS]
    return form


def _season(value: Optional[int], seasons: list[int]) -> int:
    if isinstance(value, int) and 1900 <= value <= 2200:
        return value
    return local_today().year


def _season_page(session, plot, **context) -> str:
    """A plot's inputs of the season asked for (?season=2025, this year by default), every record of it shown with
    what corrected it, and the seasons to choose from."""
    seasons = inputs.seasons_of(session, plot)
    season = _season(request.args.get("season", type=int), seasons)
    if season not in seasons:
        seasons = sorted(set(seasons) | {season}, reverse=True)
    rows = inputs.inputs_of(session, plot, season, include_superseded=True)
    replaced = {r.supersedes_id: r for r in inputs.inputs_of(session, plot, include_superseded=True)
                if r.supersedes_id}
    return render_template("tracing/plot_inputs.html", plot=plot, towns=region_names(session), rows=rows,
                           replaced=replaced, season=season, seasons=seasons, earliest=inputs.earliest_harvest,
                           **context)


@bp.get("/my/plots")
@access("producer")
def my_plots():
    """The producer's plots, with how many inputs each has this season."""
    session = get_session()
    plots = inputs.own_plots(session, actor())
    season = local_today().year
    counts = {pair[0]: len(rows) for pair, rows in inputs.effective_inputs(session, [(p.id, season)
                                                                                     for p in plots]).items()}
    return render_template("tracing/plots.html", plots=plots, towns=region_names(session), counts=counts,
                           season=season)


@bp.route("/my/plots/<int:plot_id>/inputs", methods=["GET", "POST"])
@access("producer")
def plot_inputs(plot_id: int):
    """A plot's inputs of one season (?season=2025), and the form to record one (?correct=<id> to correct one)."""
    session = get_session()
    user = actor()
    plot = inputs.own_plot(session, user, plot_id)
    corrected: Optional[PlotInput] = None
    correct_id = request.args.get("correct", type=int)
    if correct_id is not None:
        corrected = session.get(PlotInput, correct_id) if 0 < correct_id < 2**31 else None
        if corrected is None or corrected.plot_id != plot.id:
            raise NotFound(_("No such record on this plot."), field="correct")
    if request.method == "POST":
        form = _form()
    elif corrected is not None:
        form = _form(formdata=None, obj=corrected)
        form.supersedes.data = str(corrected.id)
        form.correction_reason.data = ""
    else:
        form = _form(formdata=None, applied_on=local_today(), kind="pesticide")
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            supersedes = int(form.supersedes.data) if (form.supersedes.data or "").isdigit() else None
            data = inputs.InputData(
                kind=form.kind.data, product_name=form.product_name.data or "",
                registration_no=form.registration_no.data or "", active_ingredient=form.active_ingredient.data or "",
                dose=form.dose.data or "", applied_on=form.applied_on.data,
                safety_interval_days=form.safety_interval_days.data, applied_by=form.applied_by.data or "",
                supersedes=supersedes, correction_reason=form.correction_reason.data or "")
            done = attempt(form, lambda: inputs.record_input(session, user, plot, data), fallback="product_name",
                           aliases={"supersedes": "correction_reason"}, raise_statuses=(404,))
            if done:
                record = done.value
                flash(_("Input recorded: %(product)s on %(day)s.", product=record.product_name,
                        day=fmt.day(record.applied_on)), "success")
                return redirect(url_for("inputs.plot_inputs", plot_id=plot.id, season=record.season))
        status = 422
    return _season_page(session, plot, form=form, corrected=corrected), status


@bp.get("/plots/<int:plot_id>/inputs")
@access("regulator", "admin")
def plot_record(plot_id: int):
    """A producer's plot and its inputs of one season, read-only, for a regulator in scope (?season=2025)."""
    session = get_session()
    plot = inputs.visible_plot(session, actor(), plot_id)
    return _season_page(session, plot, form=None, corrected=None, producer=session.get(Producer, plot.producer_id))
