"""The consumer's scan: the public trace page, the "verify a code" form and "report a problem".

`/t/<code>` is the hot path. It stays away from the login session and CSRF (no cookie is set for
an anonymous scan), reads through `scan.read_path` (three statements on the driver's cursor), hands
the scan to the write-behind recorder (`scan.recorder`, a few writes per second per process instead
of one transaction per view; SCAN_FLUSH_SECONDS = 0, the default in tests, writes in the request)
and renders a template that only prints. A code whose check character fails is answered before
any database access. The complaint form lives on its own page, reached from the trace page's
category links, because its CSRF token needs the session cookie the trace page avoids.
"""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from jinja2 import pass_context
from markupsafe import Markup
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from gi_trace.access import PUBLIC, access, actor
from gi_trace.db import get_engine, get_session
from gi_trace.extensions import is_loopback, limiter, network_key
from gi_trace.network import network_hash
from gi_trace.observability import metrics
from gi_trace.scan import page_parts, page_text
from gi_trace.scan import photos, read_path, services, stored_pages, verdict
from gi_trace.scan.complaints import MAX_CONTACT, MAX_TEXT, REPLY_WORKING_DAYS, category_label, file_complaint
from gi_trace.scan.models import COMPLAINT_CATEGORIES
from gi_trace.scan.readconn import ReadConnections
from gi_trace.scan.recorder import ScanRecorder
from gi_trace import formatting as fmt
from gi_trace.timeutil import local_today
from gi_trace.types import utcnow
from gi_trace.web.forms import attempt
from gi_trace.tracing import codes

bp = Blueprint("scan", __name__)

NO_STORE = {"Cache-Control": "no-store"}


class VerifyForm(FlaskForm):
    """The code printed under the QR, typed by hand (GET: no CSRF, no cookie)."""

    class Meta:
        csrf = False

    code = StringField(_l("Trace code"), validators=[DataRequired(), Length(max=500)])


class ReportForm(FlaskForm):
    """投诉举报: category, what is wrong, an optional contact and photo."""

    code = HiddenField()
    category = RadioField(_l("What is wrong?"), choices=[], validators=[InputRequired(_l("Choose a category."))])
    text = TextAreaField(_l("Describe the problem"), validators=[DataRequired(_l("Describe the problem.")),
                                                                  Length(max=MAX_TEXT)])
    contact = StringField(_l("Your phone or e-mail (optional)"), validators=[Optional(), Length(max=MAX_CONTACT)])
    photo = FileField(_l("Photo (optional, JPEG, PNG or WebP, up to 5 MB)"))
    bought_shop = StringField(_l("Shop"), validators=[Optional(), Length(max=200)])
    bought_city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    bought_platform = StringField(_l("Online platform"), validators=[Optional(), Length(max=100)])
    order_no = StringField(_l("Order number"), validators=[Optional(), Length(max=100)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [(c, category_label(c)) for c in COMPLAINT_CATEGORIES]


def _layout_context(locale: str | None = None) -> dict:
    """What the scan pages' layout needs: the same for every request in one language (and mount point)."""
    locale = locale or str(get_locale())
    key = (locale, request.script_root)
    layouts = current_app.extensions.setdefault("gi_trace.scan_layouts", {})
    layout = layouts.get(key)
    if layout is None:
        layout = layouts[key] = {
            "english": locale == "en",
            "scan_css": url_for("static", filename="css/scan.css"),
            "verify_url": url_for("scan.verify"),
            "report_base": url_for("scan.report"),
        }
    return layout


def _template_gettext(translations):
    """Jinja's new-style `_()` bound to one catalog: skips Flask-Babel's per-call context lookups."""

    @pass_context
    def gettext(__context, __string, **variables):
        rv = translations.gettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables  # as Jinja's own new-style gettext: always formatted, values escaped

    return gettext


_GETTEXT: dict[str, object] = {}


def _not_found(typed: str, malformed: bool):
    code = codes.parse(typed)
    report = url_for("scan.report", code=(code or codes.normalise(typed))[:40], category="counterfeit")
    return render_template("scan/not_found.html", typed=typed[:40], malformed=malformed, report_url=report,
                           **_layout_context()), 404, NO_STORE


def _page_limit() -> str:
    # A market hall full of shoppers behind one NAT: hundreds of scans a minute from one network.
    return current_app.config.get("SCAN_PAGE_RATE_LIMIT", "600 per minute")


@bp.get("/t/<code>")
@access(PUBLIC)
# Per /24 (IPv4) or /48 (IPv6), as the counterfeit check counts; this machine is not counted.
@limiter.limit(_page_limit, key_func=network_key, exempt_when=is_loopback)
def trace_page(code: str):
    """The public page behind a QR code: genuine? authorised? where from? record intact?"""
    return trace_response(code)


def trace_response(code: str):
    """The scan page of a code, its scan counted — also what the Digital Link resolver answers for a
    withdrawn lot (410 with the same explanation), so both QR forms count the same scan."""
    compact = codes.parse(code)
    if compact is None:
        metrics.scan("malformed")
        return _not_found(code, malformed=True)  # the check character caught it: no database access
    if compact != code:
        return redirect(url_for("scan.trace_page", code=compact), 301)
    recorder = _recorder()
    locale = str(get_locale())
    english = locale == "en"
    with _read_connection(recorder) as conn:
        ref = _reference_cache()
        row = read_path.find_batch(conn, compact, ref, english)
        if row is None:
            metrics.scan("unknown")
            return _not_found(code, malformed=False)
        count = _count_scan(conn, compact, row, recorder)
        t = page_text.texts(locale)
        layout = _layout_context(locale)
        recalled = read_path.recall_of_row(row)
        if recalled is not None or row.withdrawn_at is not None:
            # The verdict "recalled": the recall notice is the page. Read with the batch (tracing.recall's
            # member rows), before any stored page: never shown as sellable after the recall commits.
            metrics.scan("withdrawn")
            return render_template("scan/withdrawn.html", **recall_notice(row, recalled, compact, locale),
                                   **layout), 410, NO_STORE
        if stored_pages.usable(row, ref):
            history, verifies, entries = Markup(row.page_body), row.page_verifies, row.page_entries
        else:  # no stored page yet, or a stale one: build it from the record, as it would be stored
            record = read_path.read_record(conn, row.id)
            history = page_parts.history_html(row, record, ref, locale)
            verifies, entries = record.verifies, len(record.events)
    page = read_path.load_page(row, code=compact, today=local_today())
    metrics.scan("flagged" if count.flagged else "genuine")
    first = read_path.local_date(count.first_at)
    display = codes.display(compact)
    found = verdict.for_page(page, verdict.test_evidence(_row_as_batch(row)), None, verifies=verifies,
                             flagged=count.flagged)
    view = page_text.build(t, page, count, display, fmt.day(first, locale) if first else "", verifies, entries,
                           found)
    gettext = _GETTEXT.get(locale)
    if gettext is None:
        gettext = _GETTEXT[locale] = _template_gettext(get_translations())
    # Rendered without Flask's context processors: the page needs none of them (no session, no user).
    template = current_app.jinja_env.get_template("scan/trace.html")
    return template.render(t=t, v=view, history=history, code_display=display, gettext=gettext,
                           report_url=f"{layout['report_base']}?code={compact}", **layout), 200, NO_STORE


class _SessionOnUse:
    """The request's ORM session, opened only when an adapter uses it: the scan page's own adapter reads the
    batch row alone, so a scan opens no session and the unit of work has nothing to commit."""

    __slots__ = ()

    def __getattr__(self, name: str):
        return getattr(get_session(), name)


_SESSION_ON_USE = _SessionOnUse()


def _row_as_batch(row):
    """() -> (session, batch) for the verdict's evidence adapters, the batch being the page's row: the helpers
    behind them read the batch's own columns (id, code, test_state, quality), which the row carries, so the
    hot path loads no ORM object (tests/functional/test_scan_verdict.py checks the page against the ORM)."""
    return lambda: (_SESSION_ON_USE, row)


def recall_notice(row, recalled, compact: str, locale: str) -> dict:
    """What the recalled page (templates/scan/withdrawn.html) prints for a batch or unit code."""
    when = recalled.recalled_at if recalled is not None else row.withdrawn_at
    t = page_text.texts(locale)
    producer = row.producer_name
    if row.producer_kind == "household":  # a person: named by the town, as on every public page
        producer = f"{t.household} · {read_path._name(row.ptown_zh, row.ptown_en, locale == 'en') or '—'}"
    return {
        "code_display": codes.display(compact), "producer": producer, "colon": t.colon, "unit": row.serial is not None,
        "reason": recalled.reason if recalled is not None else row.withdrawn_reason,
        "recalled_on": fmt.day(read_path.local_date(when), locale),
        "source_display": codes.display(recalled.source_code) if recalled is not None and not recalled.source else "",
        "report_url": url_for("scan.report", code=compact),
    }


_RECORDER_KEY = "gi_trace.scan_recorder"


def _recorder() -> ScanRecorder | None:
    """The app's write-behind recorder, or None when scans are written in the request (SCAN_FLUSH_SECONDS = 0)."""
    app = current_app._get_current_object()
    recorder = app.extensions.get(_RECORDER_KEY, False)
    if recorder is False:
        seconds = float(app.config.get("SCAN_FLUSH_SECONDS", 0 if app.testing else 0.25))
        recorder = app.extensions[_RECORDER_KEY] = (
            ScanRecorder(get_engine(app), seconds, services.thresholds(app.config)) if seconds > 0 else None)
    return recorder


def _read_connection(recorder: ScanRecorder | None):
    """On PostgreSQL with write-behind, one of the page's kept read connections; else an engine connection.

    (SQLite's pooled connections cost nothing to check out, and measured faster than kept ones.)
    """
    engine = get_engine()
    if recorder is None or engine.dialect.name != "postgresql":
        return engine.connect()
    app = current_app._get_current_object()
    reads = app.extensions.get(_READS_KEY)
    if reads is None:
        reads = app.extensions[_READS_KEY] = ReadConnections(engine)
    return reads.connection()


_READS_KEY = "gi_trace.scan_reads"
_REFERENCE_KEY = "gi_trace.scan_reference"


def _reference_cache() -> read_path.ReferenceCache:
    """The app's cache of regions and products (SCAN_REFERENCE_TTL seconds; 0 in tests: always fresh)."""
    app = current_app._get_current_object()
    cache = app.extensions.get(_REFERENCE_KEY)
    if cache is None:
        ttl = float(app.config.get("SCAN_REFERENCE_TTL", 0 if app.testing else 300))
        cache = app.extensions[_REFERENCE_KEY] = read_path.ReferenceCache(ttl)
    return cache


def _counts_as_a_scan(row) -> bool:
    """Scans by the batch owner's own accounts (the check after printing) and by regulators are not a
    shopper's: they are not counted and never feed a counterfeit signal."""
    user = actor()
    if user is None:
        return True
    if user.role in ("regulator", "admin"):
        return False
    return user.producer_id is None or user.producer_id != row.producer_id


def _count_scan(conn, code: str, row, recorder: ScanRecorder | None) -> services.ScanCount:
    """Count this scan: buffered (the page adds it to the stored count) or written at once."""
    if not _counts_as_a_scan(row):
        return services.ScanCount(scans=row.stored_scans or 0, networks=row.stored_networks or 0,
                                  first_at=row.stored_first_at or utcnow(), flagged=bool(row.stored_flagged))
    kind = "batch" if row.serial is None else "unit"
    network = network_hash(get_remote_address(), current_app.config["SCAN_SALT"])
    now = utcnow()
    if recorder is None:
        with conn.begin():
            return services.record_scan(conn, code=code, kind=kind, batch_id=row.id, producer_id=row.producer_id,
                                        network_hash=network, limits=services.thresholds(current_app.config),
                                        now=now)
    pending = recorder.add(code=code, kind=kind, batch_id=row.id, producer_id=row.producer_id,
                           network_hash=network, now=now)
    return services.ScanCount(scans=(row.stored_scans or 0) + pending.scans,
                              networks=max(row.stored_networks or 0, 1),
                              first_at=row.stored_first_at or pending.first_at or now,
                              flagged=bool(row.stored_flagged))


@bp.get("/verify")
@access(PUBLIC)
def verify():
    """Type (or paste) the code printed under the QR and go to its page; say precisely what is wrong."""
    form = VerifyForm(request.args)
    status = 200
    if "code" in request.args:
        if form.validate():
            reading = codes.read(form.code.data)
            if reading.code is not None:
                return redirect(url_for("scan.trace_page", code=reading.code), 303)
            if reading.digital_link is not None:
                return redirect(reading.digital_link, 303)
            form.code.errors.append(_code_problem(reading))
        status = 422
    return render_template("scan/verify.html", form=form, **_layout_context()), status


def _code_problem(reading) -> str:
    """What is wrong with a typed code, in words (issue 16: too short by one, a character that cannot occur,
    a mistyped character)."""
    if reading.problem == "short":
        if reading.count == 1:
            return _("The code is one character short: a trace code has 14 letters and digits.")
        return _("The code is %(num)s characters short: a trace code has 14 letters and digits.", num=reading.count)
    if reading.problem == "long":
        if reading.count == 1:
            return _("The code has one character too many: a trace code has 14 letters and digits.")
        return _("The code has %(num)s characters too many: a trace code has 14 letters and digits.",
                 num=reading.count)
    if reading.problem == "character":
        return _("Character %(n)s, “%(char)s”, cannot occur in a trace code (codes have no 0, 1, I, L or O, "
                 "and no other signs).", n=reading.position, char=reading.char)
    if reading.problem == "check":
        return _("One character may have been mistyped: compare the code with the label, character by character.")
    return _("Type the code printed under the QR code, for example ABCD-EFGH-JKMN-PQ.")


def _report_limit() -> str:
    return current_app.config.get("SCAN_REPORT_RATE_LIMIT", "5 per 10 minutes;20 per day")


@bp.route("/report", methods=["GET", "POST"])
@access(PUBLIC)
@limiter.limit(_report_limit, methods=["POST"])
def report():
    """Report a problem (投诉举报) about a code; it lands in the regulators' complaint queue."""
    form = ReportForm()
    if request.method == "GET":
        form.code.data = request.args.get("code", "")[:40]
        if request.args.get("category") in COMPLAINT_CATEGORIES:
            form.category.data = request.args["category"]
    typed = (form.code.data or "")[:40]
    compact = codes.parse(typed)
    if request.method == "POST" and form.validate():
        session = get_session()

        def file_report():
            photo = mime = None
            upload = form.photo.data
            if upload is not None and getattr(upload, "filename", ""):
                limit = current_app.config.get("SCAN_PHOTO_MAX_BYTES", photos.MAX_UPLOAD_BYTES)
                photo, mime = photos.reencode_photo(upload.stream.read(limit + 1), max_bytes=limit)
            conn = session.connection()
            row = read_path.find_batch(conn, compact, _reference_cache()) if compact else None
            kind = ("batch" if row.serial is None else "unit") if row is not None else "unknown"
            context = services.complaint_context(
                conn, code=compact or codes.normalise(typed), kind=kind,
                network_hash=network_hash(get_remote_address(), current_app.config["SCAN_SALT"]))
            context["lang"] = str(get_locale())
            return file_complaint(session, source="scan", category=form.category.data, text=form.text.data,
                           contact=form.contact.data or "", code=compact or codes.normalise(typed),
                           batch_id=row.id if row is not None else None,
                           producer_id=row.producer_id if row is not None else None,
                           scan_context=context, photo=photo, photo_mime=mime or "",
                           bought={"shop": form.bought_shop.data, "city": form.bought_city.data,
                                   "platform": form.bought_platform.data, "order_no": form.order_no.data})

        done = attempt(form, file_report, raise_statuses=(403, 404, 409, 410),
                       aliases={"shop": "bought_shop", "city": "bought_city", "platform": "bought_platform"})
        if done:
            return redirect(url_for("scan.report_sent", code=compact or "", ref=done.value.reference), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("scan/report.html", form=form, code_display=codes.display(compact) if compact else typed,
                           trace_url=url_for("scan.trace_page", code=compact) if compact else None, reply_days=REPLY_WORKING_DAYS,
                           **_layout_context()), status


@bp.get("/report/sent")
@access(PUBLIC)
def report_sent():
    """Thanks: the report is in the regulators' queue."""
    compact = codes.parse(request.args.get("code", ""))
    reference = "".join(ch for ch in request.args.get("ref", "")[:24] if ch.isalnum() or ch == "-")
    return render_template("scan/report_sent.html",
                           trace_url=url_for("scan.trace_page", code=compact) if compact else None,
                           reference=reference, reply_days=REPLY_WORKING_DAYS, **_layout_context())


@bp.get("/scan/flags")
@access("regulator", "admin")
def flags():
    """Counterfeit flags for regulators: codes scanned too often or from too many networks."""
    me = actor()
    rows = services.open_flags(get_session(), county_code=me.county_code if me.role == "regulator" else None)
    return render_template("scan/flags.html", flags=rows, display=codes.display)
