"""Tracing pages: QR images (public) and the producer
portal — batches, stage forms from the template, split/merge/processing, unit codes, label sheets,
product lines. Views parse the form, call one service (`attempt`) and render; the request commits
once, or not at all when it failed. Rules live in the services.
"""
from __future__ import annotations


from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlmodel import Session, select

from gi_trace import formatting as fmt
from gi_trace.access import PUBLIC, access, actor
from gi_trace.db import get_session
from gi_trace.errors import DomainError, NotFound
from gi_trace.extensions import limiter, user_key
from gi_trace.registry.models import Producer, Product, Region, Trademark
from gi_trace.registry.services import plots_of, producer_products, trademarks_of
from gi_trace.tracing import (codes, gs1, guidance, labels, qr, quality, recall, rules, services, tasks, transfers,
                              units)
from gi_trace.tracing import batch_timeline as timeline
from gi_trace.tracing import portal_forms as pf
from gi_trace.tracing.models import Batch, BatchLink, Event, ProductLine
from gi_trace.tracing.services.visibility import _get as row_by_id
from gi_trace.web.forms import attempt

bp = Blueprint("tracing", __name__)

QR_CACHE = "public, max-age=86400"
VIEW_ROLES = ("producer", "regulator", "admin")


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


# --- QR images (public) ---------------------------------------------------------------------

def _qr_target(code: str) -> str:
    """The URL a code's QR carries; 404 for a malformed code (no lookup), unknown, 410 withdrawn."""
    if codes.parse(code) != code:
        # Only the compact form has an image; a bad check character never reaches the database.
        raise NotFound(_("%(code)s is not a registered trace code.", code=code[:40]), field="code")
    session = get_session()
    batch, unit = units.find_code(session, code)
    info = recall.active_recall(session, batch)
    if info is not None or batch.is_withdrawn:
        raise gs1.recalled(batch, info, _("Batch %(code)s has been recalled.", code=codes.display(batch.code)), "code")
    # A GTIN line's code carries its Digital Link URI; either form opens the same scan page.
    return gs1.label_identity(session, batch).url(_base_url(), code, unit=unit is not None)


def _cacheable(body, mimetype: str) -> Response:
    """Public and cacheable, with an ETag so a revalidation costs a 304 (same code, same image)."""
    response = Response(body, mimetype=mimetype, headers={"Cache-Control": QR_CACHE})
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/t/<code>/qr.png")
@access(PUBLIC)
def qr_png(code: str):
    """The label QR of a code as a 1-bit PNG, 2 cm at 300 dpi."""
    return _cacheable(qr.png(_qr_target(code)), "image/png")


@bp.get("/t/<code>/qr.svg")
@access(PUBLIC)
def qr_svg(code: str):
    """The label QR of a code as SVG, 20 mm square."""
    return _cacheable(qr.svg(_qr_target(code)), "image/svg+xml")


# --- helpers --------------------------------------------------------------------------------

def _own_batch(session: Session, code: str) -> Batch:
    return services.own_batch(session, actor(), code)


def _visible_batch(session: Session, code: str) -> Batch:
    return services.visible_batch(session, actor(), code)


def _towns(session: Session) -> list[tuple[str, str]]:
    """Towns as "county · town" in the current language (no statistical codes on screen)."""
    rows = session.exec(select(Region).where(Region.level.in_(("county", "town"))).order_by(Region.code)).all()
    counties = {r.code: fmt.name(r) for r in rows if r.level == "county"}
    return [(r.code, f"{counties.get(r.parent_code, '')} · {fmt.name(r)}".lstrip(" ·"))
            for r in rows if r.level == "town"]


def _plots(session: Session, producer_id: int) -> list[tuple[str, str]]:
    towns = timeline.town_names(session)
    return [(str(plot.id), timeline.plot_label(plot, towns)) for plot in plots_of(session, producer_id)]


def _template(session: Session, batch: Batch) -> list:
    return services.template_of(session.get(Product, batch.product_id))


def _placer(spec: dict | None = None):
    """Where a refusal goes on a portal form: beside the field it names (stage fields through `spec`)."""
    return lambda form, exc: pf.attach_error(form, exc.field, exc.message, spec)


# --- portal: batches ------------------------------------------------------------------------

@bp.get("/batches")
@access("producer")
def my_batches():
    """The producer's batches, newest first, with how often their codes were scanned."""
    session = get_session()
    user = actor()
    rows = session.exec(select(Batch).where(Batch.producer_id == user.producer_id)
                        .order_by(Batch.created_at.desc(), Batch.id.desc()).limit(500)).all()
    products = {p.id: p for p in session.exec(select(Product)).all()}
    scans = units.scan_counts(session, rows)
    templates = {pid: services.template_of(p) for pid, p in products.items()}
    incoming = transfers.shipments_of(session, user, "in", "in_transit", limit=100)
    parties = {p.id: p for p in session.exec(select(Producer).where(
        Producer.id.in_({s.from_party_id for s in incoming}))).all()} if incoming else {}
    return render_template("tracing/batches.html", batches=rows, products=products, scans=scans,
                           templates=templates, display=codes.display, form_names=dict(pf.product_form_choices()),
                           incoming=incoming, parties=parties, recalled=recall.recalled_ids(session, [b.id for b in rows]))


def _offer_products_and_trademarks(session, user, form) -> list:
    """Fill a form's product and trademark choices with the producer's own; return its products."""
    products = producer_products(session, user.producer_id)
    form.product.choices = pf.choices((p.slug, p.name_zh if not pf.english() else (p.name_en or p.name_zh))
                                      for p in products)
    form.trademark_id.choices = pf.choices([pf.NONE] + [(str(t.id), t.name)
                                                       for t in trademarks_of(session, user.producer_id)])
    return products


@bp.route("/batches/new", methods=["GET", "POST"])
@access("producer")
def open_batch():
    """Open a harvest batch (only while the authorisation is in force)."""
    session = get_session()
    user = actor()
    form = pf.OpenBatchForm()
    products = _offer_products_and_trademarks(session, user, form)
    form.product_line_id.choices = pf.choices([pf.NONE] + [(str(line.id), f"{line.name} · {line.gtin14}")
                                                           for line in gs1.product_lines_of(session, user.producer_id)])
    if not form.is_submitted():
        suggested = guidance.open_defaults(session, user.producer_id)
        form.cultivar.data = form.cultivar.data or suggested.get("cultivar", "")
        form.trademark_id.data = form.trademark_id.data or suggested.get("trademark_id", "")
    if form.validate_on_submit():
        product = next(p for p in products if p.slug == form.product.data)
        data = services.BatchInput(
            product_slug=product.slug, cultivar=form.cultivar.data or "",
            trademark_id=int(form.trademark_id.data) if form.trademark_id.data else None,
            product_line_id=int(form.product_line_id.data) if form.product_line_id.data else None,
            producer_lot=(form.producer_lot.data or "").strip() or None)
        done = attempt(form, lambda: services.open_batch(session, user, product, data), place=_placer())
        if done:
            batch = done.value
            flash(_("Batch %(code)s opened. Record its first stage.", code=codes.display(batch.code)), "success")
            return redirect(url_for("tracing.batch_detail", code=batch.code))
    return render_template("tracing/open_batch.html", form=form, has_products=bool(products))


def _lab_disagrees(session: Session, user, batch: Batch, form, data) -> bool:
    """Say beside the lab's conclusion, before recording, when the computed verdict differs from it; True if said.
    A second submission records the test (the computed verdict stands)."""
    try:
        outcome = services.judge_test(session, user, batch, data)
    except DomainError:
        return False  # recording gives the same refusal, beside its field
    if not outcome.lab_disagrees:
        return False
    form.f_lab_verdict.errors = list(form.f_lab_verdict.errors or []) + [
        quality.lab_disagreement_text(outcome) + " " + _("Check the values; submit again to record the test.")]
    form.lab_note_seen.data = "1"
    return True


@bp.get("/batches/<code>")
@access(*VIEW_ROLES)
def batch_detail(code: str):
    """A batch: its facts, the timeline of its events, lineage, and what the producer can do next."""
    session = get_session()
    batch = _visible_batch(session, code)
    product = session.get(Product, batch.product_id)
    producer = session.get(Producer, batch.producer_id)
    template = services.template_of(product)
    permission = services.label_allowed(session, batch)
    parents = session.exec(select(Batch, BatchLink).join(BatchLink, BatchLink.parent_id == Batch.id)
                           .where(BatchLink.child_id == batch.id).order_by(Batch.id)).all()
    children = session.exec(select(Batch, BatchLink).join(BatchLink, BatchLink.child_id == Batch.id)
                            .where(BatchLink.parent_id == batch.id).order_by(Batch.id)).all()
    flags = services.open_flags(session, batch)
    line = session.get(ProductLine, batch.product_line_id) if batch.product_line_id else None
    own = actor().role == "producer" and actor().producer_id == batch.producer_id
    scans = units.scan_counts(session, [batch]).get(batch.id)
    label_url = gs1.label_identity(session, batch).url(_base_url(), batch.code, unit=False)
    steps = guidance.steps(session, batch, template)
    events = timeline.event_rows(session, batch, template)
    return render_template(
        "tracing/batch.html", batch=batch, product=product, producer=producer, template=template,
        stages=[(s["stage"], pf.stage_name(s)) for s in template if s["stage"] in steps.allowed],
        next_stage=steps.next_stage, events=events,
        linkable=timeline.linkable(session, actor(), events, [b for b, _link in parents + children]),
        permission=permission, parents=parents, children=children, flags=flags, line=line, own=own, scans=scans,
        display=codes.display, qr_svg=Markup(qr.svg_element(label_url)), trace_url=label_url,
        digital_link=gs1.digital_link_path(line.gtin14, batch.producer_lot) if line and batch.producer_lot else None,
        flag_text=rules.flag_text, form_names=dict(pf.product_form_choices()), towns=timeline.town_names(session),
        verdict=quality.test_verdict(session, batch), regulator=actor().role in ("regulator", "admin"),
        recall=recall.recall_for(session, batch))


@bp.route("/batches/<code>/record/<stage>", methods=["GET", "POST"])
@access("producer")
def record_stage(code: str, stage: str):
    """Record one stage with a form built from the product's stage template."""
    session = get_session()
    user = actor()
    batch = _own_batch(session, code)
    template = _template(session, batch)
    spec = next((s for s in template if s["stage"] == stage), None)
    if spec is None:
        raise NotFound(_("This product has no stage %(stage)s.", stage=stage[:40]), field="stage")
    corrected = None
    if request.args.get("corrects"):
        corrected = row_by_id(session, Event, request.args.get("corrects", type=int))
        if corrected is None or corrected.batch_id != batch.id or corrected.stage != stage:
            raise NotFound(_("No such event on this batch."), field="corrects")
    form = pf.stage_form(spec, _plots(session, user.producer_id), _towns(session), correcting=corrected is not None)
    if corrected is not None and not form.is_submitted():
        pf.prefill(spec, form, corrected)
    elif not form.is_submitted():
        pf.suggest(form, guidance.stage_defaults(session, batch, spec))
    if form.validate_on_submit():
        data = services.EventInput(stage=stage, occurred_at=pf.local_iso(form.occurred_at.data),
                                   location=pf.location_of(form), data=pf.stage_data(spec, form),
                                   corrects_event_id=corrected.id if corrected else None,
                                   correction_reason=form.correction_reason.data if corrected else "")
        if stage == "testing" and not form.lab_note_seen.data and _lab_disagrees(session, user, batch, form, data):
            return render_template("tracing/record.html", form=form, batch=batch, spec=spec,
                                   stage_name=pf.stage_name(spec), display=codes.display, corrected=corrected)
        done = attempt(form, lambda: services.record_event(session, user, batch, data), place=_placer(spec))
        if done:
            event = done.value
            made = (event.data or {}).get("to") or []
            flash(_("%(stage)s recorded.", stage=pf.stage_name(spec)), "success")
            if stage == "testing":
                outcome = quality.evaluate(event.data or {})
                if outcome.lab_disagrees:
                    flash(quality.lab_disagreement_text(outcome), "error")
                not_clearing = quality.not_clearing_text(outcome, quality.test_verdict(session, batch))
                if not_clearing:
                    flash(not_clearing, "error")
            if made:
                flash(_("New batches: %(codes)s", codes=", ".join(codes.display(c) for c in made)), "success")
            return redirect(url_for("tracing.batch_detail", code=batch.code))
    return render_template("tracing/record.html", form=form, batch=batch, spec=spec, stage_name=pf.stage_name(spec),
                           display=codes.display, corrected=corrected)


@bp.route("/batches/<code>/split", methods=["GET", "POST"])
@access("producer")
def split_batch(code: str):
    """Split a batch into parts (e.g. packing lots)."""
    session = get_session()
    user = actor()
    batch = _own_batch(session, code)
    form = pf.SplitForm()
    form.location_town.choices = pf.choices([pf.NONE] + _towns(session))
    if not form.is_submitted():
        form.occurred_at.data = pf.local_now().replace(second=0, microsecond=0, tzinfo=None)
        pf.suggest(form, guidance.stage_defaults(session, batch, {"fields": []}))
    if form.validate_on_submit():
        parts = [{"quantity_kg": row.form.quantity_kg.data,
                  **({"producer_lot": row.form.producer_lot.data.strip()} if (row.form.producer_lot.data or "").strip()
                     else {})}
                 for row in form.parts if row.form.quantity_kg.data is not None]
        done = attempt(form, lambda: services.split(session, user, batch, parts,
                                                    occurred_at=pf.local_iso(form.occurred_at.data),
                                                    location=pf.location_of(form)), place=_placer())
        if done:
            result = done.value
            flash(_("Split into %(codes)s.", codes=", ".join(codes.display(c.code) for c in result.children)),
                  "success")
            return redirect(url_for("tracing.batch_detail", code=batch.code))
    return render_template("tracing/split.html", form=form, batch=batch, display=codes.display)


@bp.route("/batches/merge", methods=["GET", "POST"])
@access("producer")
def merge_batches():
    """Merge several of the producer's batches into one new batch."""
    session = get_session()
    user = actor()
    form = pf.MergeForm()
    form.location_town.choices = pf.choices([pf.NONE] + _towns(session))
    mine = session.exec(select(Batch).where(Batch.producer_id == user.producer_id, Batch.withdrawn_at.is_(None))
                        .order_by(Batch.id.desc()).limit(500)).all()
    options = [pf.NONE] + [(b.code, f"{codes.display(b.code)} · {fmt.kg(b.available_kg)} · "
                                    f"{fmt.label('product_form', b.product_form)}")
                           for b in mine if b.available_kg > 0]
    for row in form.inputs:
        row.form.code.choices = pf.choices(options)
    preselect = request.args.get("code")
    if not form.is_submitted():
        form.occurred_at.data = pf.local_now().replace(second=0, microsecond=0, tzinfo=None)
        if preselect:
            form.inputs[0].form.code.data = preselect
    if form.validate_on_submit():
        picked = [(row.form.code.data, row.form.quantity_kg.data) for row in form.inputs if row.form.code.data]

        def merge():
            inputs = [(services.own_batch(session, user, c), kg) for c, kg in picked]
            return services.merge(session, user, inputs, occurred_at=pf.local_iso(form.occurred_at.data),
                                  location=pf.location_of(form),
                                  producer_lot=(form.producer_lot.data or "").strip() or None)
        done = attempt(form, merge, place=_placer())
        if done:
            child = done.value.children[0]
            flash(_("Merged into %(code)s.", code=codes.display(child.code)), "success")
            return redirect(url_for("tracing.batch_detail", code=child.code))
    return render_template("tracing/merge.html", form=form)


@bp.route("/batches/<code>/withdraw", methods=["GET", "POST"])
@access("producer", "regulator", "admin")
def withdraw_batch(code: str):
    """Withdraw a batch (recall): recorded as an event; its codes then answer 410."""
    session = get_session()
    batch = _visible_batch(session, code)
    form = pf.WithdrawForm()
    if form.validate_on_submit():
        done = attempt(form, lambda: services.withdraw(session, actor(), batch, form.reason.data), place=_placer())
        if done:
            found = recall.members_reach(session, recall.recall_for(session, batch).recall_id)
            flash(_("Batch %(code)s withdrawn and recalled with %(n)s batches made from it.",
                    code=codes.display(batch.code), n=found.descendants), "success")
            return redirect(url_for("tracing.batch_detail", code=batch.code))
    return render_template("tracing/withdraw.html", form=form, batch=batch, display=codes.display,
                           reach=recall.reach(session, batch))


@bp.route("/batches/<code>/clearance", methods=["GET", "POST"])
@access("regulator", "admin")
def clear_failure(code: str):
    """A regulator clears a batch's test failure with a recorded decision (reason, new report no.)."""
    session = get_session()
    batch = _visible_batch(session, code)
    form = pf.ClearanceForm()
    if form.validate_on_submit():
        done = attempt(form, lambda: services.clear_failure(session, actor(), batch, reason=form.reason.data,
                                                            report_no=form.report_no.data), place=_placer())
        if done:
            flash(_("The test failure of batch %(code)s is cleared by your decision.", code=codes.display(batch.code)),
                  "success")
            return redirect(url_for("tracing.batch_detail", code=batch.code))
    return render_template("tracing/clearance.html", form=form, batch=batch, display=codes.display,
                           verdict=quality.test_verdict(session, batch))


# --- portal: unit codes and labels ------------------------------------------------------------

@bp.route("/batches/<code>/units", methods=["GET", "POST"])
@access("producer")
def issue_units(code: str):
    """Issue unit codes (一物一码), one per package."""
    session = get_session()
    user = actor()
    batch = _own_batch(session, code)
    form = pf.UnitsForm()
    line = session.get(ProductLine, batch.product_line_id) if batch.product_line_id else None
    if not form.is_submitted() and line and line.package_kg:
        form.package_kg.data = line.package_kg
    permission = services.label_allowed(session, batch)
    if form.validate_on_submit():
        done = attempt(form, lambda: units.issue_units(session, user, batch, form.count.data, form.package_kg.data),
                       place=_placer())
        if done:
            issued = done.value
            flash(_("%(n)s unit codes issued (packages %(first)s–%(last)s).", n=len(issued), first=issued[0].serial,
                    last=issued[-1].serial), "success")
            return redirect(url_for("tracing.batch_detail", code=batch.code))
    return render_template("tracing/units.html", form=form, batch=batch, permission=permission,
                           limit=units.max_units(batch.available_kg, form.package_kg.data or 0)
                           if form.package_kg.data else None, display=codes.display)


def _labels_limit() -> str:
    return current_app.config["LABELS_RATE_LIMIT"]


def _sheet_args() -> tuple[str, int, int]:
    kind = request.args.get("kind", "units")
    try:
        start = int(request.args.get("start", "1"))
        count = int(request.args.get("count", str(labels.MAX_LABELS_PER_SHEET)))
    except ValueError:
        start, count = 0, 0  # the service says what is wrong
    return kind, start, count


@bp.get("/batches/<code>/labels")
@access("producer")
@limiter.limit(_labels_limit, key_func=user_key)
def labels_sheet(code: str):
    """The A4 print view of a batch's labels (refused while the batch may not carry the GI label)."""
    session = get_session()
    batch = _own_batch(session, code)
    kind, start, count = _sheet_args()
    sheet = labels.build_sheet(session, actor(), batch, _base_url(), kind=kind, start=start, count=count)
    args = {"code": batch.code, "kind": kind, "start": start, "count": count}
    return labels.render_sheet(sheet, back_url=url_for("tracing.batch_detail", code=batch.code),
                               zip_url=url_for("tracing.labels_zip", **args),
                               pdf_url=url_for("tracing.labels_pdf", **args) if labels.pdf_fonts() else None)


def _label_file(code: str, ext: str, render, mimetype: str) -> Response:
    """The batch's label sheet rendered by `render` as a download named after the batch and range."""
    session = get_session()
    batch = _own_batch(session, code)
    kind, start, count = _sheet_args()
    if count > labels.MAX_LABELS_PER_SHEET:  # drawn by a background job: its progress page, then the download
        job = tasks.start_sheet(session, actor(), batch, _base_url(), kind=kind, start=start, count=count, fmt=ext,
                                back_url=url_for("tracing.batch_detail", code=batch.code))
        return redirect(url_for("jobs.progress", job_id=job.id))
    sheet = labels.build_sheet(session, actor(), batch, _base_url(), kind=kind, start=start, count=count)
    name = f"labels-{batch.code}-{kind}-{start}.{ext}"
    return Response(render(sheet), mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/batches/<code>/labels.zip")
@access("producer")
@limiter.limit(_labels_limit, key_func=user_key)
def labels_zip(code: str):
    """A ZIP of 2 cm / 300 dpi PNG labels for label printers."""
    return _label_file(code, "zip", labels.zip_sheet, "application/zip")


@bp.get("/batches/<code>/labels.pdf")
@access("producer")
@limiter.limit(_labels_limit, key_func=user_key)
def labels_pdf(code: str):
    """The A4 label sheet as a PDF drawn at 300 dpi (needs a Chinese font on the server)."""
    return _label_file(code, "pdf", labels.pdf_sheet, "application/pdf")


# --- portal: product lines (GTIN) -------------------------------------------------------------

@bp.route("/product-lines", methods=["GET", "POST"])
@access("producer")
def product_lines():
    """The producer's product lines and their GTINs; register a new one."""
    session = get_session()
    user = actor()
    form = pf.ProductLineForm()
    products = _offer_products_and_trademarks(session, user, form)
    form.product_form.choices = pf.choices(pf.product_form_choices())
    if form.validate_on_submit():
        data = gs1.ProductLineInput(
            product_slug=form.product.data, gtin=form.gtin.data or "", name=form.name.data or "",
            trademark_id=int(form.trademark_id.data) if form.trademark_id.data else None,
            product_form=form.product_form.data, package_kg=form.package_kg.data)
        done = attempt(form, lambda: gs1.register_product_line(session, user, data), place=_placer())
        if done:
            line = done.value
            flash(_("GTIN %(gtin)s registered.", gtin=line.gtin14), "success")
            return redirect(url_for("tracing.product_lines"))
    lines = gs1.product_lines_of(session, user.producer_id)
    marks = {t.id: t.name for t in session.exec(select(Trademark).where(Trademark.producer_id == user.producer_id))}
    return render_template("tracing/product_lines.html", form=form, lines=lines, marks=marks,
                           party=session.get(Producer, user.producer_id),
                           form_names=dict(pf.product_form_choices()),
                           products={p.id: p for p in products})
