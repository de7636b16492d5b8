"""A product's quality limits (moisture, SO₂, grades, residue limits, banned substances): every version with
who recorded it and from when it is in force, and a form for city regulators to record a new version."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional as OptionalValue

from gi_trace import formatting as fmt
from gi_trace.access import access, actor
from gi_trace.accounts.models import User
from gi_trace.db import get_session
from gi_trace.registry import limits, services
from gi_trace.timeutil import local_today
from gi_trace.web.forms import NumberField, attempt

bp = Blueprint("limits", __name__)
REGULATORS = ("regulator", "admin")


class LimitsForm(FlaskForm):
    effective_from = DateField(_l("In force from"), validators=[DataRequired()])
    moisture_max_pct = NumberField(_l("Maximum moisture (%)"), validators=[OptionalValue(), NumberRange(0, 100)])
    so2_max_mg_per_kg = NumberField(_l("Maximum SO₂ (mg/kg)"), validators=[OptionalValue(), NumberRange(min=0)])
    grade_scale = TextAreaField(_l("Grades: one a line, the name and the most grains per 50 g (e.g. 特优 280)"),
                                validators=[Length(max=5000)])
    residue_limits = TextAreaField(_l("Residue limits: one a line, the substance and its limit in mg/kg "
                                      "(e.g. 吡虫啉 1)"), validators=[Length(max=20000)])
    default_residue_mg_per_kg = NumberField(_l("Limit for substances not listed (mg/kg)"),
                                           validators=[OptionalValue(), NumberRange(min=0)])
    banned_substances = TextAreaField(_l("Banned substances: one a line"), validators=[Length(max=20000)])
    source = StringField(_l("Source (standards the figures come from)"), validators=[Length(max=500)])


def _prefill(form: LimitsForm, current: dict) -> None:
    form.effective_from.data = local_today()
    form.moisture_max_pct.data = current.get("moisture_max_pct")
    form.so2_max_mg_per_kg.data = current.get("so2_max_mg_per_kg")
    form.grade_scale.data = limits.grades_text(current.get("grade_scale"))
    form.residue_limits.data = limits.residues_text(current.get("residue_limits"))
    form.default_residue_mg_per_kg.data = current.get("default_residue_mg_per_kg")
    form.banned_substances.data = "\n".join(current.get("banned_substances") or [])
    form.source.data = "" if current.get("is_demo") else current.get("source") or ""


def _parsed(form: LimitsForm):
    """The text fields as data, or None with the bad line shown beside its field."""
    try:
        grades = limits.parse_grades(form.grade_scale.data)
    except ValueError as exc:
        form.grade_scale.errors = [_("Not a grade line (name, then a whole number of grains): %(line)s", line=str(exc))]
        return None
    try:
        residues = limits.parse_residues(form.residue_limits.data)
    except ValueError as exc:
        form.residue_limits.errors = [_("Not a residue line (substance, then mg/kg): %(line)s", line=str(exc))]
        return None
    return grades, residues, limits.parse_names(form.banned_substances.data)


@bp.route("/products/<slug>/limits", methods=["GET", "POST"])
@access(*REGULATORS)
def product_limits(slug: str):
    """The product's limits in force, their history, and (city regulators) a form for a new version."""
    session = get_session()
    product = services.get_product(session, slug)
    user = actor()
    can_edit = limits.can_edit_limits(user)
    versions = limits.history(session, product)
    current = limits.pick(versions, local_today())
    form = LimitsForm()
    status = 200
    if request.method == "POST":
        limits.require_limits_editor(user)
        parsed = _parsed(form) if form.validate_on_submit() else None
        if parsed is not None:
            grades, residues, banned = parsed
            data = limits.LimitsInput(
                effective_from=form.effective_from.data, moisture_max_pct=form.moisture_max_pct.data,
                so2_max_mg_per_kg=form.so2_max_mg_per_kg.data, grade_scale=grades, residue_limits=residues,
                default_residue_mg_per_kg=form.default_residue_mg_per_kg.data, banned_substances=banned,
                source=form.source.data or "")
            done = attempt(form, lambda: limits.record_limits(session, user, product, data), fallback="effective_from")
            if done:
                flash(_("New limits recorded, in force from %(day)s.", day=fmt.day(done.value.effective_from)),
                      "success")
                return redirect(url_for("limits.product_limits", slug=product.slug))
        status = 422
    else:
        _prefill(form, limits.as_dict(current, product))
    names = {u.id: u.display_name or u.username
             for u in session.exec(select(User).where(User.id.in_([v.recorded_by for v in versions
                                                                    if v.recorded_by]))).all()}
    return render_template("registry/limits.html", product=product, versions=versions, current=current,
                           form=form, can_edit=can_edit, names=names, today=local_today()), status
