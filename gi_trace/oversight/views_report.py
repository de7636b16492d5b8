"""The annual report in the regulator pages: drafts with their cover data and section 五, issuing,
the stored versions, the printable view and the files (HTML, PDF, JSON, ZIP); enforcement cases."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.validators import Optional as OptionalV

from gi_trace import formatting as fmt, jobs
from gi_trace.access import access, actor
from gi_trace.db import fail, get_session
from gi_trace.errors import DomainError, NotFound
from gi_trace.extensions import export_limit, limiter, user_key
from gi_trace.oversight import compliance as c
from gi_trace.oversight import dashboard as d
from gi_trace.oversight import enforcement as enf
from gi_trace.oversight import report as rep
from gi_trace.oversight import report_document as doc
from gi_trace.oversight import use_reports as ur
from gi_trace.oversight.tasks import ISSUE_REPORT
from gi_trace.registry.services import get_producer, list_products, region_names
from gi_trace.timeutil import local_today
from gi_trace.web.forms import NumberField, attempt

bp = Blueprint("oversight_report", __name__, url_prefix="/oversight")

# The report is a self-contained file with its CSS inside: viewed in the app, it may use its own
# inline style and nothing else (no scripts, no requests anywhere).
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
MIMES = {"html": "text/html", "pdf": "application/pdf", "json": "application/json", "zip": "application/zip"}


class DraftForm(FlaskForm):
    authority = StringField(_l("Issuing authority"), validators=[DataRequired(), Length(max=200)])
    document_no = StringField(_l("Document number"), validators=[Length(max=100)])
    dated = DateField(_l("Date of the document (empty: the day it is issued)"), validators=[OptionalV()])
    problems_text = TextAreaField(_l("五、Problems and next steps (one paragraph a line)"),
                                  validators=[Length(max=doc.MAX_PROBLEMS)])


class CaseForm(FlaskForm):
    case_no = StringField(_l("Case no."), validators=[DataRequired(), Length(max=64)])
    producer_code = StringField(_l("Party's credit code or registry number (if on the register)"),
                                validators=[Length(max=32)])
    party = StringField(_l("Party"), validators=[Length(max=200)])
    # A regulator picks the county by its name (the choices are set per request: the counties it may see).
    county_code = SelectField(_l("County (empty: the party's)"), choices=[], validate_choice=False)
    finding = TextAreaField(_l("Finding"), validators=[DataRequired(), Length(max=4000)])
    opened_on = DateField(_l("Opened (立案)"), validators=[DataRequired()])


class CloseForm(FlaskForm):
    closed_on = DateField(_l("Closed (结案)"), validators=[DataRequired()])
    fine_yuan = NumberField(_l("Fine (yuan)"), default=0.0, validators=[OptionalV()])
    confiscated = StringField(_l("Confiscated"), validators=[Length(max=500)])
    confiscated_value_yuan = NumberField(_l("Value of confiscated goods (yuan)"), default=0.0, validators=[OptionalV()])
    transferred_to_police = BooleanField(_l("Transferred to the police"))


def _attach(form: FlaskForm, exc: DomainError) -> None:
    if exc.field and exc.field in form._fields:
        form._fields[exc.field].errors = list(form._fields[exc.field].errors) + [exc.message]
    else:
        form.form_errors.append(exc.message)


def _query():
    session = get_session()
    county = c.scoped_county(actor(), request.args.get("county"))
    year = request.args.get("year") or str(d.default_year() - 1)
    return session, c.parse_query(session, request.args.get("product", "zhongning-goji"), year, county)


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "zh"


@bp.get("/reports")
@access("regulator", "admin")
def reports():
    """Choose a product, year and county: preview the report, start a draft, see the versions."""
    session = get_session()
    return render_template("oversight/reports.html", products=d.products(session),
                           counties=d.visible_counties(session, actor()), args=request.args,
                           default_year=d.default_year() - 1, versions=doc.list_versions(session, actor()),
                           products_by_id={p.id: p for p in list_products(session)},
                           default_authority=doc.default_authority())


@bp.get("/reports/annual.zip")
@access("regulator", "admin")
@limiter.limit(export_limit, key_func=user_key)
def annual_zip():
    """The current figures as a draft: report.html, report.json and the data tables (CSV and XLSX)."""
    session, query = _query()
    data = rep.build_report(session, query.product, query.year, query.county_code, as_of=query.as_of)
    files = doc.document_files(data, doc.Cover(doc.default_authority()), lang=_lang(), pdf=False)
    name = f"gi-report-{query.product.slug}-{query.year}{'-' + query.county_code if query.county_code else ''}"
    folder = f"gi-report-{query.product.slug}-{query.year}"
    return Response(doc.zip_files(files, folder), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}.zip"',
                             "Cache-Control": "private, no-store"})


@bp.get("/reports/annual.html")
@access("regulator", "admin")
@limiter.limit(export_limit, key_func=user_key)
def annual_html():
    """The printable report of the current figures (a draft without a document number)."""
    session, query = _query()
    data = rep.build_report(session, query.product, query.year, query.county_code, as_of=query.as_of)
    response = Response(doc.render_html(data, doc.Cover(doc.default_authority()), lang=_lang()), mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/reports/drafts")
@access("regulator", "admin")
def new_draft():
    """Start a new draft version of a report (the figures are computed when it is viewed or issued)."""
    session = get_session()
    query = c.parse_query(session, request.form.get("product", ""), request.form.get("year", ""),
                          c.scoped_county(actor(), request.form.get("county")))
    version = doc.new_draft(session, actor(), query.product, query.year, query.county_code,
                            authority=request.form.get("authority", ""))
    flash(_("Draft version %(n)s started.", n=version.version), "success")
    return redirect(url_for("oversight_report.version", version_id=version.id))


@bp.route("/reports/<int:version_id>", methods=["GET", "POST"])
@access("regulator", "admin")
def version(version_id: int):
    """A version: a draft's cover data and section 五 are edited here; an issued one shows its hash."""
    session = get_session()
    user = actor()
    item = doc.get_version(session, user, version_id)
    form = DraftForm(obj=item)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            if attempt(form, lambda: doc.update_draft(session, user, item, authority=form.authority.data,
                                                      document_no=form.document_no.data, dated=form.dated.data,
                                                      problems_text=form.problems_text.data or ""),
                       raise_statuses=(403, 404), place=_attach):
                flash(_("Draft saved."), "success")
                return redirect(url_for("oversight_report.version", version_id=item.id))
            status = 422
        else:
            status = 422
    products = {p.id: p for p in list_products(session)}
    return render_template("oversight/report_version.html", item=item, form=form, issue_form=FlaskForm(),
                           product=products.get(item.product_id)), status


@bp.post("/reports/<int:version_id>/issue")
@access("regulator", "admin")
def issue(version_id: int):
    """Issue (freeze) a draft: figures, HTML and PDF are stored with their hash and never change."""
    session = get_session()
    user = actor()
    item = doc.get_version(session, user, version_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("oversight_report.version", version_id=item.id))
    try:
        doc.check_issuable(user, item)
    except DomainError as exc:
        fail()
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
        return redirect(url_for("oversight_report.version", version_id=item.id))
    back = url_for("oversight_report.version", version_id=item.id)
    job = jobs.start(session, ISSUE_REPORT, user.id, {"version_id": item.id, "back_url": back}, total=1)
    flash(_("Version %(n)s is being issued; the PDF can be downloaded here when it is ready.", n=item.version),
          "success")
    return redirect(url_for("jobs.progress", job_id=job.id))


@bp.get("/reports/<int:version_id>/report.<ext>")
@access("regulator", "admin")
@limiter.limit(export_limit, key_func=user_key)
def version_file(version_id: int, ext: str):
    """A version's document: an issued one exactly as stored, a draft from today's figures."""
    kind = ext
    if kind not in MIMES:
        raise NotFound(_("No such file."))
    session = get_session()
    item = doc.get_version(session, actor(), version_id)
    lang = _lang()
    if item.issued:
        files = doc.stored_files(item, lang)
    else:
        data = doc.build_for(session, item, today=local_today())
        files = doc.document_files(data, doc.cover_of(item), item.problems_text, lang, pdf=kind in ("pdf", "zip"))
    name = f"gi-report-{item.year}-v{item.version}{'-en' if lang == 'en' else ''}"
    if kind == "zip":
        body = doc.zip_files(files, name)
    else:
        body = files[f"report.{kind}"]
    response = Response(body, mimetype=MIMES[kind])
    if kind == "html":
        response.headers["Content-Security-Policy"] = REPORT_CSP
    else:
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    response.headers["Cache-Control"] = "private, no-store"
    if item.issued:
        response.headers["X-Report-SHA256"] = item.sha256
    return response


# --- enforcement cases ----------------------------------------------------------------------------

@bp.route("/cases", methods=["GET", "POST"])
@access("regulator", "admin")
def cases():
    """Enforcement cases: open one (立案) and list them; open cases can be closed (结案) with penalties."""
    session = get_session()
    user = actor()
    form = CaseForm(prefix="case")
    form.county_code.choices = [("", "—")] + [(r.code, fmt.name(r)) for r in d.visible_counties(session, user)]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            products = list_products(session)
            done = attempt(form, lambda: enf.open_case(session, user, enf.CaseInput(
                case_no=form.case_no.data, party=form.party.data or "", finding=form.finding.data,
                opened_on=form.opened_on.data, county_code=form.county_code.data or "",
                producer_code=form.producer_code.data or "",
                product_id=products[0].id if products else None), today=local_today()),
                raise_statuses=(403, 404), place=_attach)
            if done:
                flash(_("Case %(no)s opened.", no=done.value.case_no), "success")
                return redirect(url_for("oversight_report.cases"))
            status = 422
        else:
            status = 422
    return render_template("oversight/cases.html", form=form, cases=enf.list_cases(session, user),
                           close_form=CloseForm(prefix="close", formdata=None)), status


@bp.post("/cases/<int:case_id>/close")
@access("regulator", "admin")
def close_case(case_id: int):
    """Close a case once, with the fine, confiscations and any transfer to the police."""
    session = get_session()
    user = actor()
    case = enf.get_case(session, user, case_id)
    form = CloseForm(prefix="close")
    if form.validate_on_submit():
        try:
            enf.close_case(session, user, case, enf.ClosingInput(
                closed_on=form.closed_on.data, fine_yuan=form.fine_yuan.data or 0.0,
                confiscated=form.confiscated.data or "", confiscated_value_yuan=form.confiscated_value_yuan.data or 0.0,
                transferred_to_police=bool(form.transferred_to_police.data)), today=local_today())
        except DomainError as exc:
            fail()
            if exc.status in (403, 404):
                raise
            flash(exc.message, "error")
        else:
            flash(_("Case %(no)s closed.", no=case.case_no), "success")
    else:
        fail()
        flash(_("Give the closing date."), "error")
    return redirect(url_for("oversight_report.cases"))


# --- users' annual use reports (使用情况报告) -----------------------------------------------------------

class UseReportForm(FlaskForm):
    note = TextAreaField(_l("Note (what the records do not show)"), validators=[Length(max=2000)])


@bp.route("/my/use-report", methods=["GET", "POST"])
@access("producer")
def my_use_report():
    """A user's use report for last year, drafted from its records: confirm it, with a note if needed."""
    session = get_session()
    user = actor()
    producer = get_producer(session, user.producer_id)
    year = local_today().year - 1
    form = UseReportForm()
    products = ur.reporting_products(session, producer.id)
    status = 200
    if request.method == "POST":
        slug = request.form.get("product", "")
        product = next((p for p in products if p.slug == slug), None)
        if product is None or not form.validate_on_submit():
            fail()
            status = 422
        elif attempt(form, lambda: ur.confirm(session, user, product, year, form.note.data or ""),
                     raise_statuses=(403,), place=_attach):
            flash(_("Use report for %(year)s confirmed.", year=year), "success")
            return redirect(url_for("oversight_report.my_use_report"))
        else:
            status = 422
    rows = [(p, ur.draft(session, producer.id, p, year), ur.mine(session, producer.id, p.id).get(year))
            for p in products]
    return render_template("oversight/use_report_mine.html", producer=producer, year=year, rows=rows,
                           form=form), status


@bp.get("/use-reports")
@access("regulator", "admin")
def use_reports():
    """Who has confirmed its use report for a year, and who has not."""
    session, query = _query()
    return render_template("oversight/use_reports.html", query=query, regions=region_names(session),
                           result=ur.status(session, query.product, query.year, query.county_code))
