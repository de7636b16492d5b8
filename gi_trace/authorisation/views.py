"""Authorisation pages: the public list of authorised users, producers applying, regulators deciding."""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional as OptionalValue

from gi_trace import formatting as fmt
from gi_trace.access import PUBLIC, access, actor
from gi_trace.accounts.models import User
from gi_trace.authorisation import register, rules, services
from gi_trace.db import get_session
from gi_trace.errors import DomainError, NotFound
from gi_trace.registry import services as registry
from gi_trace.registry.paging import page_of
from gi_trace.registry.views import ProducerStatuses, producer_page, visible_producer
from gi_trace.timeutil import local_today
from gi_trace.web.forms import attempt

bp = Blueprint("authorisation", __name__)


class RegisterFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a public GET search form changes nothing

    product = SelectField(_l("GI product"), validate_choice=False)
    county = SelectField(_l("County"), validate_choice=False)
    status = SelectField(_l("Status"), validate_choice=False)


class DecisionForm(FlaskForm):
    product = SelectField(_l("GI product"), choices=[])
    action = SelectField(_l("Decision"), choices=[])
    effective_date = DateField(_l("Effective date"), validators=[DataRequired()])
    reference_no = StringField(_l("Reference number"), validators=[Length(max=64)])
    valid_until = DateField(_l("Valid until (empty: the product's default term)"), validators=[OptionalValue()])
    contract_no = StringField(_l("Licence contract no."), validators=[Length(max=64)])
    notice_no = StringField(_l("Public notice (公告) no."), validators=[Length(max=64)])
    standard = StringField(_l("Product standard met"), validators=[Length(max=100)])
    test_report_no = StringField(_l("Latest passing test report no."), validators=[Length(max=64)])
    sources = TextAreaField(_l("Declared sources of raw material (processors and traders without plots)"),
                            validators=[Length(max=1000)])
    reason_code = SelectField(_l("Reason category"), choices=[], validate_choice=False)  # the service checks
    reason = TextAreaField(_l("Reason"), validators=[Length(max=1000)])


def reason_code_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(code, services.reason_code_label(code)) for code in rules.REASON_CODES]


DECISION_LABELS = {
    "approve": _l("Approve"),
    "reject": _l("Reject the application"),
    "suspend": _l("Suspend"),
    "reinstate": _l("Reinstate"),
    "revoke": _l("Revoke"),
}


def decision_choices() -> list[tuple[str, str]]:
    """The decisions a regulator can record, named as actions."""
    return [(a, DECISION_LABELS[a]) for a in services.REGULATOR_ACTIONS]


def state_choices() -> list[tuple[str, str]]:
    return [(s, services.state_label(s)) for s in rules.STATES]


def producer_page_part(session, producer, products, forms: dict, can_edit: bool, today) -> dict:
    """A producer's authorisations with their full history, and the decision form for who may decide."""
    authorisations = []
    decider_ids = set()
    for product in products:
        decisions = services.history(session, producer.id, product.id)
        decider_ids.update(d.decided_by for d in decisions if d.decided_by)
        authorisations.append((product, rules.status_on(decisions, today), decisions))
    deciders = {u.id: u for u in session.exec(select(User).where(User.id.in_(decider_ids))).all()} \
        if decider_ids else {}
    latest_reports = {}
    if can_edit:
        # The latest passing test report of each product, from the tracing record (connected by the app
        # factory: authorisation does not import tracing); offered in the form, shown beside the field.
        latest = current_app.extensions.get("authorisation_latest_test_report")
        if latest is not None:
            latest_reports = {p.slug: r for p in products if (r := latest(session, producer.id, p.id))}
        if "decision" not in forms and products:
            first = latest_reports.get(products[0].slug)
            forms["decision"] = DecisionForm(prefix="dec", formdata=None, effective_date=today,
                                             test_report_no=first.report_no if first else "")
        if "decision" in forms:
            forms["decision"].product.choices = [(p.slug, p.name_zh) for p in products]
            forms["decision"].action.choices = decision_choices()
            forms["decision"].reason_code.choices = reason_code_choices()
    report_hint = None
    if can_edit:
        report_hint = "; ".join(
            _("Latest passing test in the record — %(product)s: %(report)s (%(lab)s, sampled %(day)s, batch "
              "%(code)s)", product=p.name_zh, report=r.report_no, lab=r.lab or "—", day=fmt.day(r.sampled_on),
              code=r.batch_code)
            for p in products if (r := latest_reports.get(p.slug))) or \
            _("No passing test with measured values in the record yet.")
    return {"authorisations": authorisations, "deciders": deciders, "report_hint": report_hint,
            "state_label": services.state_label,
            "action_label": services.action_label, "reason_code_label": services.reason_code_label}


# The authorisation part of the register's producer pages (connected by the app factory).
PRODUCER_STATUSES = ProducerStatuses(states=state_choices, statuses=services.statuses, none=rules.Status(rules.NONE),
                                     state_label=services.state_label, page=producer_page_part)


class ApplyForm(FlaskForm):
    """Only the CSRF token: the product is in the address, the date is today."""


def _product_or_default(products, slug: Optional[str]):
    chosen = next((p for p in products if p.slug == slug), None)
    return chosen or (products[0] if products else None)


@bp.get("/authorised-users")
@access(PUBLIC)
def public_register():
    """The public list (公告) of users of the GI special mark, with status and effective dates."""
    session = get_session()
    form = RegisterFilterForm(request.args)
    products = registry.list_products(session)
    form.product.choices = [(p.slug, p.name_zh) for p in products]
    form.county.choices = [("", _("All counties"))] + [(c.code, c.name_zh) for c in registry.counties(session)]
    form.status.choices = [("", _("All statuses"))] + [(s, services.state_label(s)) for s in register.PUBLIC_STATES]
    product = _product_or_default(products, form.product.data)
    today = local_today()
    county = form.county.data if form.county.data in dict(form.county.choices) else ""
    state = form.status.data if form.status.data in register.PUBLIC_STATES else ""
    rows = register.public_list(session, product, today, county_code=county, state=state) if product else []
    producer_id = request.args.get("producer", type=int)
    if producer_id is not None:
        # One user's record: where a Digital Link's gs1:certificationInfo points.
        rows = [row for row in rows if row[0] == producer_id]
    page = page_of(request.args.get("page"), len(rows))
    entries = register.entries(session, rows[page.offset:page.offset + page.per_page])
    papers = register.papers(session, product, today, [e.producer.id for e in entries]) if product else {}
    return render_template("authorisation/public_register.html", form=form, product=product, today=today,
                           entries=entries, page=page, papers=papers, reason_code_label=services.reason_code_label,
                           regions=registry.region_names(session), state_label=services.state_label)


# --- producers --------------------------------------------------------------------------------

def _my_page(session, errors: Optional[dict] = None, status: int = 200):
    user = actor()
    producer = registry.get_producer(session, user.producer_id)
    today = local_today()
    rows = []
    for product in registry.producer_products(session, producer.id):
        decisions = services.history(session, producer.id, product.id)
        current = rules.status_on(decisions, today)
        can_apply = "apply" in rules.ALLOWED[current.state] and not (decisions and max(
            d.effective_date for d in decisions) > today)
        rows.append((product, current, decisions, can_apply))
    return render_template("authorisation/mine.html", producer=producer, rows=rows, form=ApplyForm(),
                           errors=errors or {}, state_label=services.state_label,
                           action_label=services.action_label, regions=registry.region_names(session)), status


@bp.get("/my/authorisations")
@access("producer")
def mine():
    """A producer's own authorisation status for each product it is registered for."""
    return _my_page(get_session())


@bp.post("/my/authorisations/<slug>/apply")
@access("producer")
def apply(slug: str):
    """Apply online for the right to use the GI special mark on a product."""
    session = get_session()
    user = actor()
    form = ApplyForm()
    if not form.validate_on_submit():
        return _my_page(session, {slug: _("The form has expired; please try again.")}, status=400)
    producer = registry.get_producer(session, user.producer_id)
    product = registry.get_product(session, slug)
    if product.id not in {p.id for p in registry.producer_products(session, producer.id)}:
        raise NotFound(_("Your business is not registered for %(product)s.", product=product.name_zh))
    try:
        services.decide(session, user, producer, product, services.DecisionInput("apply", local_today()))
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return _my_page(session, {slug: exc.message}, status=422)  # a 422: nothing is committed
    flash(_("Your application for %(product)s has been sent to the regulator.", product=product.name_zh),
          "success")
    return redirect(url_for("authorisation.mine"))


# --- regulators -------------------------------------------------------------------------------

@bp.get("/authorisations/pending")
@access("regulator", "admin")
def pending():
    """Applications waiting for a decision (a county regulator sees its county's)."""
    session = get_session()
    products = registry.list_products(session)
    today = local_today()
    rows = register.pending_list(session, actor(), products, today)
    page = page_of(request.args.get("page"), len(rows))
    entries = register.entries(session, rows[page.offset:page.offset + page.per_page])
    return render_template("authorisation/pending.html", entries=entries, page=page, today=today,
                           renewals=services.renewals_due(session, actor(), products, today),
                           regions=registry.region_names(session))


@bp.post("/producers/<int:producer_id>/authorisations")
@access("regulator", "admin")
def decide(producer_id: int):
    """Record a regulator's decision; refusals are shown beside the field on the producer page."""
    session = get_session()
    producer = visible_producer(session, producer_id)
    registry.require_regulator_scope(actor(), producer.county_code)
    products = registry.producer_products(session, producer.id)
    form = DecisionForm(prefix="dec")
    form.product.choices = [(p.slug, p.name_zh) for p in products]
    form.action.choices = decision_choices()
    form.reason_code.choices = reason_code_choices()
    if form.validate_on_submit():
        product = next(p for p in products if p.slug == form.product.data)
        valid_until = form.valid_until.data
        if form.action.data == "approve" and valid_until is None:
            valid_until = services.default_valid_until(product, form.effective_date.data)
        data = services.DecisionInput(action=form.action.data, effective_date=form.effective_date.data,
                                      reference_no=form.reference_no.data or "", valid_until=valid_until,
                                      reason=form.reason.data or "", reason_code=form.reason_code.data or "",
                                      contract_no=form.contract_no.data or "", notice_no=form.notice_no.data or "",
                                      standard=form.standard.data or "", test_report_no=form.test_report_no.data or "",
                                      sources=form.sources.data or "")
        if attempt(form, lambda: services.decide(session, actor(), producer, product, data), fallback="action",
                   raise_statuses=(403, 404)):
            flash(_("Decision recorded: %(product)s %(action)s.", product=product.name_zh,
                    action=services.action_label(data.action)), "success")
            return redirect(url_for("registry.producer", producer_id=producer.id) + "#authorisations")
    return producer_page(session, producer, forms={"decision": form}, status=422)
