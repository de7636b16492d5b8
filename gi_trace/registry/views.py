"""Register pages for regulators and admins: producers, GI products, sector totals."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (DataRequired, InputRequired, Length, NumberRange, Optional as OptionalValue,
                                StopValidation)
from wtforms.widgets import CheckboxInput, ListWidget

from gi_trace import formatting as fmt
from gi_trace.access import access, actor
from gi_trace.accounts.models import User
from gi_trace.db import get_session
from gi_trace.registry import gs1_prefixes, services
from gi_trace.registry.labels import PRODUCER_KIND_LABELS, PRODUCT_KIND_LABELS
from gi_trace.registry.models import PRODUCER_KINDS, PRODUCT_KINDS, Producer, Product
from gi_trace.registry.paging import page_of
from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.timeutil import local_today
from gi_trace.web.forms import NumberField, WholeNumberField, attempt

bp = Blueprint("registry", __name__)

REGULATORS = ("regulator", "admin")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- forms -----------------------------------------------------------------------------------

class ProducerFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(_l("Name or code"), validators=[OptionalValue(), Length(max=100)])
    county = SelectField(_l("County"), validators=[OptionalValue()], validate_choice=False)
    town = SelectField(_l("Town"), validators=[OptionalValue()], validate_choice=False)
    kind = SelectField(_l("Kind"), validators=[OptionalValue()], validate_choice=False)
    product = SelectField(_l("GI product"), validators=[OptionalValue()], validate_choice=False)
    status = SelectField(_l("Authorisation today"), validators=[OptionalValue()], validate_choice=False)


class ProducerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=[])
    uscc = StringField(_l("Unified social credit code"), validators=[Length(max=40)])
    registry_no = StringField(_l("Registry number (households without a code)"), validators=[Length(max=32)])
    gln = StringField(_l("GLN (global location number)"), validators=[Length(max=20)])
    county_code = SelectField(_l("County"), choices=[])
    town_code = SelectField(_l("Town"), choices=[])
    address = StringField(_l("Address"), validators=[Length(max=300)])
    contact_name = StringField(_l("Contact person"), validators=[Length(max=100)])
    contact_phone = StringField(_l("Contact phone"), validators=[Length(max=40)])
    registered_on = DateField(_l("On the register since"), validators=[OptionalValue()])
    products = MultiCheckboxField(_l("GI products"), choices=[])
    accept_warning = BooleanField(_l("Accept the warning and register anyway"))


class PlotForm(FlaskForm):
    name = StringField(_l("Plot name"), validators=[Length(max=100)])
    town_code = SelectField(_l("Town"), choices=[])
    area_mu = NumberField(_l("Area (mu)"), validators=[DataRequired(), NumberRange(min=0.01, max=99999)])
    cultivar = StringField(_l("Cultivar"), validators=[Length(max=64)])
    latitude = NumberField(_l("Latitude"), validators=[OptionalValue(), NumberRange(min=-90, max=90)])
    longitude = NumberField(_l("Longitude"), validators=[OptionalValue(), NumberRange(min=-180, max=180)])


class DeregisterForm(FlaskForm):
    deregistered_on = DateField(_l("Off the register from"), validators=[DataRequired()])
    reason = StringField(_l("Reason (closed, merged, stopped growing…)"), validators=[DataRequired(), Length(max=500)])


class TrademarkForm(FlaskForm):
    name = StringField(_l("Trademark"), validators=[DataRequired(), Length(max=100)])
    registration_no = StringField(_l("Registration number"), validators=[Length(max=64)])


def _sent(form, field) -> None:
    """The box was in the request (empty clears the GLN; a request without it must not)."""
    if not field.raw_data:
        raise StopValidation(_("Give the GLN, or send the box empty to clear it."))


class GlnForm(FlaskForm):
    gln = StringField(_l("GLN (global location number)"), validators=[_sent, Length(max=20)])


class PrefixForm(FlaskForm):
    company_prefix = StringField(_l("GS1 company prefix"), validators=[DataRequired(), Length(max=20)])


class OutputForm(FlaskForm):
    product = SelectField(_l("GI product"), choices=[])
    year = WholeNumberField(_l("Year"), validators=[DataRequired(), NumberRange(min=2000, max=2100)])
    # Zero is a figure (a frost year), so InputRequired, not DataRequired; integer bounds read "10000000000".
    output_kg = NumberField(_l("Output (kg)"), validators=[InputRequired(), NumberRange(min=0, max=10**10)])
    output_value_yuan = NumberField(_l("Output value (yuan)"), validators=[InputRequired(),
                                                                         NumberRange(min=0, max=10**13)])


class SectorTotalForm(FlaskForm):
    product = SelectField(_l("GI product"), choices=[])
    year = WholeNumberField(_l("Year"), validators=[DataRequired(), NumberRange(min=2000, max=2100)])
    county_code = SelectField(_l("Area"), choices=[])
    producers_total = WholeNumberField(_l("Number of producers"), validators=[OptionalValue(), NumberRange(min=0)])
    output_value_yuan = NumberField(_l("Sector output value (yuan)"), validators=[OptionalValue(),
                                                                                NumberRange(min=0)])
    source = StringField(_l("Source"), validators=[DataRequired(), Length(max=300)])
    scope = SelectField(_l("What the figures count"), choices=[], validate_choice=False)  # the service checks


SCOPE_LABELS = {"protected_area": _l("Producers and output of the protected towns"),
                "whole_sector": _l("The whole sector of the county or city")}


def product_form_class():
    """The product form, with a checkbox and a registration number per kind of protection."""

    class ProductForm(FlaskForm):
        slug = StringField(_l("Slug (used in addresses and imports)"), validators=[DataRequired(), Length(max=64)])
        name_zh = StringField(_l("Chinese name"), validators=[DataRequired(), Length(max=64)])
        name_en = StringField(_l("English name"), validators=[Length(max=128)])
        holder = StringField(_l("Holder"), validators=[Length(max=200)])
        towns = MultiCheckboxField(_l("Protected towns"), choices=[])
        max_dried_yield_kg_per_mu = NumberField(_l("Maximum yield per mu (kg)"), validators=[OptionalValue()])
        fresh_dried_ratio_min = NumberField(_l("Fresh-to-dried ratio, lowest"), validators=[OptionalValue()])
        fresh_dried_ratio_max = NumberField(_l("Fresh-to-dried ratio, highest"), validators=[OptionalValue()])
        max_moisture_pct = NumberField(_l("Maximum moisture (percent)"), validators=[OptionalValue()])
        season_start_mmdd = StringField(_l("Season starts (MM-DD)"), validators=[Length(max=5)])
        season_end_mmdd = StringField(_l("Season ends (MM-DD)"), validators=[Length(max=5)])
        package_sizes = StringField(_l("Approved package sizes (kg)"), validators=[Length(max=300)])
        target_share = NumberField(_l("Target share of authorised users"), default=0.6,
                                  validators=[DataRequired(), NumberRange(min=0.01, max=1)])

    for kind in PRODUCT_KINDS:
        setattr(ProductForm, f"kind_{kind}", BooleanField(PRODUCT_KIND_LABELS[kind]))
        setattr(ProductForm, f"regno_{kind}", StringField(_l("Registration number"), validators=[Length(max=64)]))
    return ProductForm


# --- helpers ---------------------------------------------------------------------------------

def town_choices(session, county_code: Optional[str] = None) -> list[tuple[str, str]]:
    regions = services.region_names(session)
    towns = [r for r in regions.values() if r.level == "town" and (county_code is None or r.parent_code == county_code)]
    return [(t.code, f"{fmt.name(regions[t.parent_code])} {fmt.name(t)}")  # in the page's language
            for t in sorted(towns, key=lambda r: r.code)]


def county_choices(session, user: User, blank: Optional[str] = None) -> list[tuple[str, str]]:
    counties = services.counties(session)
    if user.role == "regulator" and user.county_code:
        counties = [c for c in counties if c.code == user.county_code]
    choices = [(c.code, c.name_zh) for c in counties]
    return ([("", blank)] if blank is not None else []) + choices


def product_choices(session) -> list[tuple[str, str]]:
    return [(p.slug, p.name_zh) for p in services.list_products(session)]


def visible_producer(session, producer_id: int) -> Producer:
    """The producer if the current user may see it, else NotFound (never reveal other counties)."""
    producer = services.get_producer(session, producer_id)
    services.require_producer_visible(actor(), producer)
    return producer


@dataclass(frozen=True)
class ProducerStatuses:
    """What the authorisation area adds to the producer pages: each producer's status (the list's column
    and filter) and, on a producer's page, its history and the decision form. The register sits below
    authorisation, so the app factory connects it (app.extensions["registry_producer_statuses"])."""

    states: Callable[[], list[tuple[str, str]]]  # (state, words), to filter the producer list by
    statuses: Callable[..., dict]  # (session, product_id, on, producer_ids=None) -> producer id -> status
    none: Any  # the status of a producer without a decision
    state_label: Callable[[str], str]
    page: Callable[..., dict]  # (session, producer, products, forms, can_edit, today) -> template values


def producer_statuses() -> ProducerStatuses:
    return current_app.extensions["registry_producer_statuses"]


def state_choices() -> list[tuple[str, str]]:
    return producer_statuses().states()


def producer_page(session, producer: Producer, *, forms: Optional[dict] = None, status: int = 200):
    """Render a producer's detail page (the decision form's view reuses it to show refusals)."""
    user = actor()
    forms = dict(forms or {})
    products = services.producer_products(session, producer.id)
    today = local_today()
    can_edit = user.role == "admin" or user.role == "regulator" and user.county_code in (None, producer.county_code)
    if can_edit:
        if "plot" not in forms:
            forms["plot"] = PlotForm(prefix="plot", formdata=None, town_code=producer.town_code)
        forms["plot"].town_code.choices = town_choices(session)
        if "deregister" not in forms and producer.deregistered_on is None:
            forms["deregister"] = DeregisterForm(prefix="dereg", formdata=None)
        if "trademark" not in forms:
            forms["trademark"] = TrademarkForm(prefix="tm", formdata=None)
        if "prefix" not in forms:
            forms["prefix"] = PrefixForm(prefix="gs1", formdata=None)
        if "gln" not in forms:
            forms["gln"] = GlnForm(prefix="gln", formdata=None, gln=producer.gln or "")
        if "output" not in forms:
            forms["output"] = OutputForm(prefix="out", formdata=None, year=today.year - 1)
        forms["output"].product.choices = [(p.slug, p.name_zh) for p in products]
    statuses = producer_statuses().page(session, producer, products, forms, can_edit, today)
    body = render_template(
        "registry/producer.html", producer=producer, regions=services.region_names(session),
        plots=services.plots_of(session, producer.id), trademarks=services.trademarks_of(session, producer.id),
        prefixes=gs1_prefixes.prefixes_of(session, producer.id),
        gln_recorder=session.get(User, producer.gln_recorded_by) if producer.gln_recorded_by else None,
        outputs=services.outputs_of(session, producer.id), products={p.id: p for p in products},
        forms=forms, can_edit=can_edit, kind_labels=PRODUCER_KIND_LABELS, today=today, **statuses,
    )
    return body, status


# --- producers -------------------------------------------------------------------------------

@bp.get("/producers/search.json")
@access(*REGULATORS)
def producer_search():
    """Producers matching a name, code, town or phone, for the forms' pickers (JSON, at most 20)."""
    from flask import jsonify

    found = services.search_producers(get_session(), actor(), request.args.get("q", ""))
    return jsonify([{"code": p["code"], "label": f"{p['name']} · {p['town']} · {p['code']}"} for p in found])


@bp.get("/producers")
@access(*REGULATORS)
def producers():
    """The producer list with filters and pages; a county regulator sees only its county."""
    session = get_session()
    user = actor()
    form = ProducerFilterForm(request.args)
    form.county.choices = county_choices(session, user, blank=_("All counties"))
    county = services.scoped_county(user, form.county.data or "")
    form.town.choices = [("", _("All towns"))] + town_choices(session, county or None)
    form.kind.choices = [("", _("All kinds"))] + [(k, PRODUCER_KIND_LABELS[k]) for k in PRODUCER_KINDS]
    products_all = services.list_products(session)
    form.product.choices = [("", _("All products"))] + [(p.slug, p.name_zh) for p in products_all]
    form.status.choices = [("", _("Any status"))] + state_choices()
    form.validate()
    chosen = next((p for p in products_all if p.slug == form.product.data), None)
    status_product = chosen or (products_all[0] if products_all else None)
    filters = services.ProducerFilter(
        county_code=county, kind=form.kind.data if form.kind.data in PRODUCER_KINDS else "",
        town_code=form.town.data or "", product_id=chosen.id if chosen else None,
        q=(form.q.data or "")[:100])
    query = services.producers_query(user, filters)
    today = local_today()
    parts = producer_statuses()
    wanted_state = form.status.data if form.status.data in {s for s, _words in parts.states()} else ""
    if wanted_state and status_product is not None:
        # Status is derived from histories, so filter light id rows here and load only the page shown.
        known = parts.statuses(session, status_product.id, today)
        ids = [pid for pid in session.execute(query.with_only_columns(Producer.id)
                                              .order_by(Producer.name, Producer.id)).scalars()
               if known.get(pid, parts.none).state == wanted_state]
        page = page_of(request.args.get("page"), len(ids))
        page_ids = ids[page.offset:page.offset + page.per_page]
        loaded = {p.id: p for p in session.exec(select(Producer).where(Producer.id.in_(page_ids))).all()} \
            if page_ids else {}
        rows = [loaded[pid] for pid in page_ids]
    else:
        page = page_of(request.args.get("page"), services.count_of(session, query))
        rows = list(session.exec(query.order_by(Producer.name, Producer.id).offset(page.offset)
                                 .limit(page.per_page)).all())
    status_by_id = parts.statuses(session, status_product.id, today, [p.id for p in rows]) \
        if status_product is not None else {}
    return render_template("registry/producers.html", form=form, producers=rows, page=page,
                           regions=services.region_names(session), status_by_id=status_by_id,
                           status_product=status_product, kind_labels=PRODUCER_KIND_LABELS,
                           state_label=parts.state_label, none_status=parts.none)


@bp.route("/producers/new", methods=["GET", "POST"])
@access(*REGULATORS)
def new_producer():
    """Register a producer; a failed USCC check character needs the regulator to accept the warning."""
    session = get_session()
    user = actor()
    form = ProducerForm()
    form.kind.choices = [(k, PRODUCER_KIND_LABELS[k]) for k in PRODUCER_KINDS]
    form.county_code.choices = county_choices(session, user)
    form.town_code.choices = town_choices(session, user.county_code if user.role == "regulator" else None)
    form.products.choices = product_choices(session)
    show_accept = False
    if request.method == "GET":
        form.products.data = [slug for slug, _name in form.products.choices if slug == GOJI_SLUG]
    if form.validate_on_submit():
        data = services.ProducerInput(
            name=form.name.data, kind=form.kind.data, county_code=form.county_code.data,
            town_code=form.town_code.data, uscc=form.uscc.data or "", registry_no=form.registry_no.data or "",
            gln=form.gln.data or "",
            address=form.address.data or "", contact_name=form.contact_name.data or "",
            contact_phone=form.contact_phone.data or "", products=list(form.products.data or []),
            registered_on=form.registered_on.data)
        done = attempt(form, lambda: services.create_producer(session, user, data,
                                                              accept_warnings=bool(form.accept_warning.data)),
                       fallback="name", raise_statuses=(403,))
        show_accept = done.error is not None and done.error.code == "warning"
        if done:
            producer = done.value
            flash(_("Producer %(name)s registered.", name=producer.name), "success")
            return redirect(url_for("registry.producer", producer_id=producer.id))
    status = 422 if form.errors or any(f.errors for f in form) else 200
    return render_template("registry/producer_form.html", form=form, show_accept=show_accept), \
        (status if request.method == "POST" else 200)


@bp.get("/producers/<int:producer_id>")
@access(*REGULATORS)
def producer(producer_id: int):
    """A producer's data, plots, trademarks, output and authorisations with their full history."""
    session = get_session()
    return producer_page(session, visible_producer(session, producer_id))


def _add(producer_id: int, key: str, form: FlaskForm, save, fallback: str, done: str):
    """Shared body of the small 'add' forms on the producer page."""
    session = get_session()
    producer = visible_producer(session, producer_id)
    if form.validate_on_submit():
        if attempt(form, lambda: save(session, producer), fallback=fallback, raise_statuses=(403,)):
            flash(done, "success")
            return redirect(url_for("registry.producer", producer_id=producer.id))
    return producer_page(session, producer, forms={key: form}, status=422)


@bp.post("/producers/<int:producer_id>/plots")
@access(*REGULATORS)
def add_plot(producer_id: int):
    """Add a planted plot."""
    form = PlotForm(prefix="plot")
    form.town_code.choices = town_choices(get_session())

    def save(session, producer):
        services.add_plot(session, actor(), producer, town_code=form.town_code.data, area_mu=form.area_mu.data,
                          cultivar=form.cultivar.data or "", name=form.name.data or "",
                          latitude=form.latitude.data, longitude=form.longitude.data)
    return _add(producer_id, "plot", form, save, "area_mu", _("Plot added."))


@bp.post("/producers/<int:producer_id>/deregister")
@access(*REGULATORS)
def deregister(producer_id: int):
    """Take a producer off the register from a date, with the reason."""
    form = DeregisterForm(prefix="dereg")

    def save(session, producer):
        services.deregister(session, actor(), producer, on=form.deregistered_on.data, reason=form.reason.data)
    return _add(producer_id, "deregister", form, save, "reason", _("The producer has been taken off the register."))


@bp.post("/producers/<int:producer_id>/trademarks")
@access(*REGULATORS)
def add_trademark(producer_id: int):
    """Record the enterprise's own trademark."""
    form = TrademarkForm(prefix="tm")

    def save(session, producer):
        services.add_trademark(session, actor(), producer, form.name.data, form.registration_no.data or "")
    return _add(producer_id, "trademark", form, save, "name", _("Trademark added."))


@bp.post("/producers/<int:producer_id>/gs1-prefixes")
@access(*REGULATORS)
def add_prefix(producer_id: int):
    """Record a GS1 company prefix (厂商识别代码) for the producer."""
    form = PrefixForm(prefix="gs1")

    def save(session, producer):
        gs1_prefixes.add_prefix(session, actor(), producer, form.company_prefix.data)
    return _add(producer_id, "prefix", form, save, "company_prefix", _("GS1 company prefix recorded."))


@bp.post("/producers/<int:producer_id>/gln")
@access(*REGULATORS)
def set_gln(producer_id: int):
    """Record, change or clear the party's GLN (GS1 global location number)."""
    form = GlnForm(prefix="gln")

    def save(session, producer):
        services.set_gln(session, actor(), producer, form.gln.data or "")
    return _add(producer_id, "gln", form, save, "gln", _("GLN recorded."))


@bp.post("/producers/<int:producer_id>/outputs")
@access(*REGULATORS)
def add_output(producer_id: int):
    """Record (or correct) a year's output of a product."""
    session = get_session()
    form = OutputForm(prefix="out")
    form.product.choices = product_choices(session)

    def save(session, producer):
        product = services.get_product(session, form.product.data)
        services.record_output(session, actor(), producer, product, form.year.data, form.output_kg.data,
                               form.output_value_yuan.data)
    return _add(producer_id, "output", form, save, "year", _("Output recorded."))


# --- GI products -----------------------------------------------------------------------------

def _can_edit_products(user: User) -> bool:
    return user.role == "admin" or (user.role == "regulator" and user.county_code is None)


@bp.get("/products")
@access(*REGULATORS)
def products():
    """The GI products and how many producers are registered for each."""
    session = get_session()
    return render_template("registry/products.html", products=services.list_products(session),
                           counts=services.producer_counts_by_product(session),
                           can_edit=_can_edit_products(actor()))


@bp.get("/products/<slug>")
@access(*REGULATORS)
def product(slug: str):
    """A GI product: kinds of protection, protected towns, plausibility parameters."""
    session = get_session()
    item = services.get_product(session, slug)
    return render_template("registry/product.html", product=item,
                           registrations=services.registrations_of(session, item.id),
                           towns=sorted(services.protected_towns(session, item.id)),
                           regions=services.region_names(session), kind_labels=PRODUCT_KIND_LABELS,
                           can_edit=_can_edit_products(actor()))


def _product_form(session, item: Optional[Product]):
    form_class = product_form_class()
    if request.method == "POST" or item is None:
        form = form_class()
    else:
        form = form_class(obj=item)
        form.towns.data = sorted(services.protected_towns(session, item.id))
        for registration in services.registrations_of(session, item.id):
            if registration.kind in PRODUCT_KINDS:
                getattr(form, f"kind_{registration.kind}").data = True
                getattr(form, f"regno_{registration.kind}").data = registration.registration_no
        if not form.is_submitted():
            form.package_sizes.data = "; ".join(format(v, "g") for v in (item.package_sizes_kg or []))
    form.towns.choices = town_choices(session)
    return form


def _save_product(item: Optional[Product]):
    session = get_session()
    user = actor()
    services.require_product_editor(user)
    form = _product_form(session, item)
    sizes: list[float] = []
    valid = form.validate_on_submit()
    if valid:
        try:
            sizes = services.parse_package_sizes(form.package_sizes.data or "")
        except ValueError as exc:
            form.package_sizes.errors = [_("%(value)s is not a package size in kg (0.001 to 1000).", value=str(exc))]
            valid = False
    if valid:
        data = services.ProductInput(
            slug=form.slug.data or "", name_zh=form.name_zh.data or "", name_en=form.name_en.data or "",
            holder=form.holder.data or "", towns=list(form.towns.data or []),
            registrations={k: getattr(form, f"regno_{k}").data or "" for k in PRODUCT_KINDS
                           if getattr(form, f"kind_{k}").data},
            max_dried_yield_kg_per_mu=form.max_dried_yield_kg_per_mu.data,
            fresh_dried_ratio_min=form.fresh_dried_ratio_min.data,
            fresh_dried_ratio_max=form.fresh_dried_ratio_max.data, max_moisture_pct=form.max_moisture_pct.data,
            season_start_mmdd=(form.season_start_mmdd.data or "").strip(),
            season_end_mmdd=(form.season_end_mmdd.data or "").strip(), target_share=form.target_share.data,
            package_sizes_kg=sizes)
        done = attempt(form, lambda: services.save_product(session, user, data, item), fallback="slug",
                       aliases={"registrations": f"kind_{PRODUCT_KINDS[0]}"}, raise_statuses=(403,))
        if done:
            saved = done.value
            flash(_("GI product %(name)s saved.", name=saved.name_zh), "success")
            return redirect(url_for("registry.product", slug=saved.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("registry/product_form.html", form=form, product=item, kinds=PRODUCT_KINDS,
                           regions=services.region_names(session)), status


@bp.route("/products/new", methods=["GET", "POST"])
@access(*REGULATORS)
def new_product():
    """Define another GI product (e.g. 海原马铃薯) without code changes."""
    return _save_product(None)


@bp.route("/products/<slug>/edit", methods=["GET", "POST"])
@access(*REGULATORS)
def edit_product(slug: str):
    """Change a GI product's data, protected towns and plausibility parameters."""
    return _save_product(services.get_product(get_session(), slug))


# --- sector totals ---------------------------------------------------------------------------

@bp.route("/sector-totals", methods=["GET", "POST"])
@access(*REGULATORS)
def sector_totals():
    """Official counts of producers and sector output value, and a form to add one."""
    session = get_session()
    user = actor()
    form = SectorTotalForm()
    form.product.choices = product_choices(session)
    whole_city = [] if user.role == "regulator" and user.county_code else [("", _("Whole city"))]
    form.county_code.choices = whole_city + county_choices(session, user)
    form.scope.choices = list(SCOPE_LABELS.items())
    status = 200
    if form.validate_on_submit():

        def add():
            product_ = services.get_product(session, form.product.data)
            services.add_sector_total(session, user, product_, form.year.data, form.county_code.data or None,
                                      form.producers_total.data, form.output_value_yuan.data, form.source.data,
                                      form.scope.data or "protected_area")

        if attempt(form, add, fallback="year", raise_statuses=(403,)):
            flash(_("Sector totals recorded."), "success")
            return redirect(url_for("registry.sector_totals"))
        status = 422
    elif request.method == "POST":
        status = 422
    products_by_id = {p.id: p for p in services.list_products(session)}
    return render_template("registry/sector_totals.html", form=form, totals=services.sector_totals(session, user),
                           products=products_by_id, regions=services.region_names(session)), status
