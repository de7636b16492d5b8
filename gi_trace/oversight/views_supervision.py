"""Supervision work pages: inspections (a failed one may suspend in the same step) and the complaint queue."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.validators import Optional as OptionalV

from gi_trace.access import access, actor
from gi_trace.db import get_session
from gi_trace.errors import NotFound
from gi_trace.oversight import services as s
from gi_trace.registry.models import Producer
from gi_trace.registry.paging import page_of
from gi_trace.registry.services import list_products
from gi_trace.scan import complaints as filing
from gi_trace.scan.models import COMPLAINT_CATEGORIES, COMPLAINT_STATUSES
from gi_trace.web.forms import attempt

bp = Blueprint("oversight_supervision", __name__, url_prefix="/oversight")
bp.add_app_template_global(filing.category_label, "complaint_category_label")
bp.add_app_template_global(s.status_label, "complaint_status_label")
bp.add_app_template_global(s.result_label, "inspection_result_label")


class InspectionForm(FlaskForm):
    producer_code = StringField(_l("Producer (credit code or registry number)"),
                                validators=[DataRequired(), Length(max=32)])
    inspected_on = DateField(_l("Date of inspection"), validators=[DataRequired()])
    product = SelectField(_l("GI product"), choices=[], validate_choice=False)
    scope = StringField(_l("Scope"), validators=[DataRequired(), Length(max=300)])
    result = RadioField(_l("Result"), choices=[SelectChoice("pass", _l("passed")), SelectChoice("fail", _l("failed"))],
                        validators=[DataRequired()])
    findings = TextAreaField(_l("Findings"), validators=[Length(max=4000)])
    suspend = BooleanField(_l("Suspend the producer's authorisation for this product now"))
    suspension_reason = TextAreaField(_l("Reason for the suspension"), validators=[Length(max=1000)])


class StaffComplaintForm(FlaskForm):
    category = SelectField(_l("Category"), choices=[], validators=[DataRequired()])
    text = TextAreaField(_l("What was reported"), validators=[DataRequired(), Length(max=filing.MAX_TEXT)])
    contact = StringField(_l("Contact of the person reporting (optional)"),
                          validators=[OptionalV(), Length(max=filing.MAX_CONTACT)])
    code = StringField(_l("Trace or unit code (optional)"), validators=[OptionalV(), Length(max=filing.MAX_CODE)])
    producer_code = StringField(_l("Producer's credit code or registry number (optional)"),
                                validators=[OptionalV(), Length(max=32)])
    bought_shop = StringField(_l("Shop"), validators=[OptionalV(), Length(max=200)])
    bought_city = StringField(_l("City"), validators=[OptionalV(), Length(max=100)])
    bought_platform = StringField(_l("Online platform"), validators=[OptionalV(), Length(max=100)])
    order_no = StringField(_l("Order number"), validators=[OptionalV(), Length(max=100)])


class ComplaintUpdateForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[])
    assignee_id = SelectField(_l("Assignee"), choices=[], validate_choice=False)
    note = TextAreaField(_l("Note"), validators=[Length(max=filing.MAX_TEXT)])
    resolution = TextAreaField(_l("Resolution"), validators=[Length(max=filing.MAX_TEXT)])


@bp.route("/inspections", methods=["GET", "POST"])
@access("regulator", "admin")
def inspections():
    """Record an inspection and list past ones (failed ones with the suspension they led to)."""
    session = get_session()
    user = actor()
    form = InspectionForm()
    form.product.choices = [SelectChoice("", _("— none —"))] + [SelectChoice(p.slug, p.name_zh)
                                                                for p in list_products(session)]
    if request.method == "GET":
        form.producer_code.data = form.producer_code.data or request.args.get("producer", "")
        if len(form.product.choices) > 1:
            form.product.data = form.product.choices[1].value  # the first product: a suspension needs one
    status = 200
    if form.validate_on_submit():
        data = s.InspectionInput(producer_code=form.producer_code.data, inspected_on=form.inspected_on.data,
                                 scope=form.scope.data, result=form.result.data, findings=form.findings.data or "",
                                 product_slug=form.product.data or "", suspend=form.suspend.data,
                                 suspension_reason=form.suspension_reason.data or "")
        done = attempt(form, lambda: s.record_inspection(session, user, data), raise_statuses=(403,),
                       aliases={"product_slug": "product", "producer": "producer_code", "action": "suspend",
                                "reason": "suspension_reason", "effective_date": "suspend"})
        status = 422
        if done:
            inspection = done.value
            flash(_("Inspection recorded.") if not inspection.decision_id
                  else _("Inspection recorded and the authorisation suspended."), "success")
            return redirect(url_for("oversight_supervision.inspections"))
    elif request.method == "POST":
        status = 422
    result = request.args.get("result") or None
    total, _rows = s.list_inspections(session, user, result, limit=1)
    page = page_of(request.args.get("page"), total)
    total, rows = s.list_inspections(session, user, result, offset=page.offset, limit=page.per_page)
    return render_template("oversight/inspections.html", form=form, rows=rows, page=page, result=result), status


@bp.get("/complaints")
@access("regulator", "admin")
def complaints():
    """The complaint queue: new, investigating, closed."""
    session = get_session()
    status = request.args.get("status") or None
    total, _rows = s.list_complaints(session, actor(), status, limit=1)
    page = page_of(request.args.get("page"), total)
    total, rows = s.list_complaints(session, actor(), status, offset=page.offset, limit=page.per_page)
    return render_template("oversight/complaints.html", rows=rows, page=page, status=status,
                           statuses=COMPLAINT_STATUSES)


@bp.route("/complaints/new", methods=["GET", "POST"])
@access("regulator", "admin")
def new_complaint():
    """Enter a complaint received by phone, letter or found in a market check."""
    session = get_session()
    form = StaffComplaintForm()
    form.category.choices = [SelectChoice(c, filing.category_label(c)) for c in COMPLAINT_CATEGORIES]
    status = 200
    if form.validate_on_submit():
        done = attempt(form, lambda: s.enter_complaint(session, actor(), category=form.category.data,
                                                       text=form.text.data, contact=form.contact.data or "",
                                                       code=form.code.data or "",
                                                       producer_code=form.producer_code.data or "",
                                                       bought={"shop": form.bought_shop.data,
                                                               "city": form.bought_city.data,
                                                               "platform": form.bought_platform.data,
                                                               "order_no": form.order_no.data}),
                       aliases={"producer": "producer_code", "shop": "bought_shop", "city": "bought_city",
                                "platform": "bought_platform"})
        if done:
            flash(_("Complaint entered."), "success")
            return redirect(url_for("oversight_supervision.complaint", complaint_id=done.value.id))
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("oversight/complaint_new.html", form=form), status


def _update_form(session, complaint) -> ComplaintUpdateForm:
    form = ComplaintUpdateForm()
    form.status.choices = [SelectChoice(st, s.status_label(st)) for st in COMPLAINT_STATUSES
                           if st == complaint.status or st in s.COMPLAINT_TRANSITIONS[complaint.status]]
    county = None
    if complaint.producer_id is not None:
        producer = session.get(Producer, complaint.producer_id)
        county = producer.county_code if producer else None
    form.assignee_id.choices = [SelectChoice("", _("— unchanged —"))] + [
        SelectChoice(str(u.id), u.display_name or u.username) for u in s.assignable_users(session, actor(), county)]
    if request.method == "GET":
        form.status.data = complaint.status
    return form


@bp.route("/complaints/<int:complaint_id>", methods=["GET", "POST"])
@access("regulator", "admin")
def complaint(complaint_id: int):
    """One complaint: what was reported, its links, its history, and the form to move it on."""
    session = get_session()
    item = s.visible_complaint(session, actor(), complaint_id)
    form = _update_form(session, item)
    status = 200
    if form.validate_on_submit():
        raw = form.assignee_id.data or ""
        # The service checks everything before it changes the complaint: a refusal leaves `item` as it was.
        if attempt(form, lambda: s.update_complaint(session, actor(), item, status=form.status.data,
                                                    assignee_id=int(raw) if raw.isdigit() else None,
                                                    note=form.note.data or "", resolution=form.resolution.data or "")):
            flash(_("Complaint updated."), "success")
            return redirect(url_for("oversight_supervision.complaint", complaint_id=item.id))
        status = 422
    elif request.method == "POST":
        status = 422
    view = s.complaint_view(session, item)
    return render_template("oversight/complaint.html", c=item, view=view, form=form), status


@bp.get("/complaints/<int:complaint_id>/photo")
@access("regulator", "admin")
def complaint_photo(complaint_id: int):
    """The complaint's photo (re-encoded pixels only), for regulators."""
    item = s.visible_complaint(get_session(), actor(), complaint_id)
    if not item.photo:
        raise NotFound(_("This complaint has no photo."))
    return Response(item.photo, mimetype=item.photo_mime or "application/octet-stream",
                    headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"})
