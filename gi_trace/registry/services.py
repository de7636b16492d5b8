"""Register services: producers, products, plots, output. Plain functions over a session; no commits."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import func
from sqlmodel import Session, select

from gi_trace import formatting
from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, NotFound, ValidationError
from gi_trace.registry.models import (
    PRODUCER_KINDS,
    PRODUCT_KINDS,
    TOTAL_SCOPES,
    OutputRecord,
    Plot,
    Producer,
    ProducerProduct,
    Product,
    ProductRegistration,
    ProductTown,
    Region,
    SectorTotal,
    Trademark,
)
from gi_trace.registry.gln import gln_problem
from gi_trace.registry.gln import normalise as normalise_gln
from gi_trace.registry.uscc import check_uscc
from gi_trace.timeutil import local_today
from gi_trace.types import utcnow


def get_product(session: Session, slug: str) -> Product:
    """The product with this slug, or NotFound."""
    product = session.exec(select(Product).where(Product.slug == slug)).first()
    if product is None:
        raise NotFound(_("No GI product %(slug)s.", slug=slug), field="product")
    return product


def list_products(session: Session) -> list[Product]:
    return list(session.exec(select(Product).order_by(Product.id)).all())


def protected_towns(session: Session, product_id: int) -> set[str]:
    """Town codes of the product's protected area."""
    return set(session.exec(select(ProductTown.town_code).where(ProductTown.product_id == product_id)).all())


def region_name(session: Session, code: Optional[str]) -> str:
    """A region's name in the current language; a code the register does not know, as given."""
    region = session.get(Region, code) if code else None
    return formatting.name(region) if region is not None else str(code or formatting.DASH)


def region_names(session: Session) -> dict[str, Region]:
    """Every region by code (a small table: 44 rows)."""
    return {r.code: r for r in session.exec(select(Region)).all()}


def counties(session: Session) -> list[Region]:
    return list(session.exec(select(Region).where(Region.level == "county").order_by(Region.code)).all())


def towns_of(session: Session, county_code: str) -> list[Region]:
    return list(session.exec(select(Region).where(Region.parent_code == county_code).order_by(Region.code)).all())


def producer_by_code(session: Session, code: str) -> Producer:
    """The producer with this USCC or registry number, or NotFound."""
    code = (code or "").strip()
    producer = session.exec(select(Producer).where((Producer.uscc == code.upper()) | (Producer.registry_no == code))
                            ).first()
    if producer is None:
        raise NotFound(_("No producer with code %(code)s.", code=code), field="producer")
    return producer


def get_producer(session: Session, producer_id: int) -> Producer:
    producer = session.get(Producer, producer_id)
    if producer is None:
        raise NotFound(_("No such producer."), field="producer")
    return producer


def public_name(producer: Producer, town: Optional[Region], locale: Optional[str] = None) -> str:
    """How a party is shown on public pages: a household as "农户 · <town>" (its personal name is personal
    information), every business by its registered name."""
    if producer.kind == "household":
        where = formatting.name(town, locale) if town is not None else producer.town_code
        return f"{formatting.label('producer_kind', 'household', locale)} · {where}"
    return producer.name


# --- who may see what ---------------------------------------------------------------------

def can_see_producer(user: Optional[User], producer: Producer) -> bool:
    """Admins and city regulators see all; a county regulator its county; a producer itself."""
    if user is None:
        return False
    if user.role == "admin":
        return True
    if user.role == "regulator":
        return user.county_code is None or user.county_code == producer.county_code
    return user.role == "producer" and user.producer_id == producer.id


def require_producer_visible(user: Optional[User], producer: Producer) -> None:
    """NotFound for a producer outside the user's reach (do not reveal that it exists)."""
    if not can_see_producer(user, producer):
        raise NotFound(_("No such producer."), field="producer")


def require_regulator_scope(user: User, county_code: str) -> None:
    """A county regulator may act only in its own county."""
    if user.role == "admin":
        return
    if user.role != "regulator":
        raise Forbidden(_("Only regulators can do this."))
    if user.county_code is not None and user.county_code != county_code:
        raise Forbidden(_("This producer is outside your county."))


# --- producers ----------------------------------------------------------------------------

@dataclass
class ProducerInput:
    """What a regulator (or an import row) gives to register a producer."""

    name: str
    kind: str
    county_code: str
    town_code: str
    uscc: str = ""
    registry_no: str = ""
    gln: str = ""  # GS1 Global Location Number, optional
    address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    products: list[str] = field(default_factory=list)
    registered_on: Optional[date] = None  # empty: today
    deregistered_on: Optional[date] = None


@dataclass
class FieldProblem:
    field: str
    message: str
    warning: bool = False  # a regulator may accept a warning


def check_producer_input(data: ProducerInput, regions: dict[str, Region],
                         product_slugs: Iterable[str]) -> list[FieldProblem]:
    """Every problem with a producer's data; pure apart from the lookup tables passed in."""
    problems: list[FieldProblem] = []
    if not data.name.strip():
        problems.append(FieldProblem("name", _("A name is required.")))
    elif len(data.name) > 200:
        problems.append(FieldProblem("name", _("The name is longer than 200 characters.")))
    if data.kind not in PRODUCER_KINDS:
        problems.append(FieldProblem("kind", _("Kind must be one of: %(kinds)s.", kinds=", ".join(PRODUCER_KINDS))))
    if data.uscc:
        result = check_uscc(data.uscc)
        if result.error == "length":
            problems.append(FieldProblem("uscc", _("The unified social credit code must have 18 characters, not "
                                                   "%(n)s.", n=result.detail)))
        elif result.error == "alphabet":
            problems.append(FieldProblem("uscc", _("The unified social credit code contains characters outside its "
                                                   "alphabet: %(chars)s.", chars=result.detail)))
        elif not result.check_ok:
            problems.append(FieldProblem("uscc", _("The check character of the unified social credit code does not "
                                                   "match; a regulator may accept it."), warning=True))
    elif data.kind != "household":
        problems.append(FieldProblem("uscc", _("A unified social credit code is required (only households may "
                                               "have none).")))
    elif not data.registry_no.strip():
        problems.append(FieldProblem("registry_no", _("A household without a credit code needs a registry number.")))
    if data.gln:
        problem = gln_problem(data.gln)
        if problem:
            problems.append(FieldProblem("gln", problem))
    county = regions.get(data.county_code)
    if county is None or county.level != "county":
        problems.append(FieldProblem("county_code", _("Unknown county code %(code)s.", code=data.county_code)))
    town = regions.get(data.town_code)
    if town is None or town.level != "town":
        problems.append(FieldProblem("town_code", _("Unknown town code %(code)s.", code=data.town_code)))
    elif county is not None and town.parent_code != county.code:
        problems.append(FieldProblem("town_code", _("Town %(town)s is not in county %(county)s.",
                                                    town=f"{formatting.name(town)} {data.town_code}",
                                                    county=f"{formatting.name(county)} {data.county_code}")))
    known = set(product_slugs)
    for slug in data.products:
        if slug not in known:
            problems.append(FieldProblem("products", _("Unknown product %(slug)s.", slug=slug)))
    return problems


def create_producer(session: Session, user: User, data: ProducerInput, *, accept_warnings: bool = False) -> Producer:
    """Register a producer; a failed USCC check character needs `accept_warnings`."""
    require_regulator_scope(user, data.county_code)
    products = {p.slug: p for p in list_products(session)}
    data.uscc = data.uscc.strip().upper()
    data.registry_no = data.registry_no.strip()
    data.gln = normalise_gln(data.gln)
    problems = check_producer_input(data, region_names(session), products)
    errors = [p for p in problems if not p.warning]
    if errors:
        raise ValidationError(errors[0].message, field=errors[0].field)
    warnings = [p for p in problems if p.warning]
    if warnings and not accept_warnings:
        raise ValidationError(warnings[0].message, field=warnings[0].field, code="warning")
    if data.uscc and session.exec(select(Producer.id).where(Producer.uscc == data.uscc)).first():
        raise ValidationError(_("A producer with this credit code is already registered."), field="uscc")
    if data.registry_no and session.exec(select(Producer.id).where(Producer.registry_no == data.registry_no)).first():
        raise ValidationError(_("A producer with this registry number is already registered."), field="registry_no")
    if data.gln:
        _require_gln_free(session, data.gln, None)
    producer = Producer(
        uscc=data.uscc or None, registry_no=data.registry_no or None, uscc_check_ok=not warnings,
        uscc_warning_accepted_by=user.id if warnings else None, name=data.name.strip(), kind=data.kind,
        county_code=data.county_code, town_code=data.town_code, address=data.address,
        contact_name=data.contact_name, contact_phone=data.contact_phone, created_by=user.id,
        registered_on=data.registered_on or local_today(), deregistered_on=data.deregistered_on,
        gln=data.gln or None, gln_recorded_by=user.id if data.gln else None,
        gln_recorded_at=utcnow() if data.gln else None,
    )
    session.add(producer)
    session.flush()
    for slug in dict.fromkeys(data.products):
        session.add(ProducerProduct(producer_id=producer.id, product_id=products[slug].id))
    session.flush()
    return producer


def producer_products(session: Session, producer_id: int) -> list[Product]:
    return list(session.exec(select(Product).join(ProducerProduct, ProducerProduct.product_id == Product.id)
                             .where(ProducerProduct.producer_id == producer_id).order_by(Product.id)).all())


def add_plot(session: Session, user: User, producer: Producer, *, town_code: str, area_mu: float,
             cultivar: str = "", name: str = "", latitude: float | None = None,
             longitude: float | None = None) -> Plot:
    """Add a planted plot to a producer."""
    _require_can_edit(user, producer)
    regions = region_names(session)
    if town_code not in regions or regions[town_code].level != "town":
        raise ValidationError(_("Unknown town code %(code)s.", code=town_code), field="town_code")
    if not (area_mu and 0 < area_mu < 100000):
        raise ValidationError(_("The area must be a positive number of mu."), field="area_mu")
    if latitude is not None and not -90 <= latitude <= 90:
        raise ValidationError(_("Latitude must be between -90 and 90."), field="latitude")
    if longitude is not None and not -180 <= longitude <= 180:
        raise ValidationError(_("Longitude must be between -180 and 180."), field="longitude")
    plot = Plot(producer_id=producer.id, town_code=town_code, area_mu=area_mu, cultivar=cultivar.strip(),
                name=name.strip(), latitude=latitude, longitude=longitude)
    session.add(plot)
    session.flush()
    return plot


def deregister(session: Session, user: User, producer: Producer, *, on: Optional[date], reason: str) -> Producer:
    """Take a producer off the register from a date (it closed, merged, stopped growing): it stays in the
    figures of the years it was registered and leaves the denominators after that date. Once recorded,
    a deregistration is not changed here; who did it, why and when are kept."""
    _require_can_edit(user, producer)
    reason = (reason or "").strip()
    if on is None:
        raise ValidationError(_("Give the date the producer leaves the register."), field="deregistered_on")
    if not reason:
        raise ValidationError(_("Give the reason for deregistering the producer."), field="reason")
    if len(reason) > 500:
        raise ValidationError(_("Longer than %(n)s characters.", n=500), field="reason")
    if producer.deregistered_on is not None:
        raise Conflict(_("%(name)s left the register on %(date)s already.", name=producer.name,
                         date=formatting.day(producer.deregistered_on)))
    if producer.registered_on is not None and on < producer.registered_on:
        raise ValidationError(_("The producer was registered on %(date)s; it cannot leave the register before.",
                                date=formatting.day(producer.registered_on)), field="deregistered_on")
    if on > local_today():
        raise ValidationError(_("The date cannot be in the future."), field="deregistered_on")
    producer.deregistered_on = on
    producer.deregistered_by = user.id
    producer.deregistration_reason = reason
    producer.deregistration_recorded_at = utcnow()
    session.add(producer)
    session.flush()
    return producer


def _require_gln_free(session: Session, gln: str, producer_id: Optional[int]) -> None:
    other = session.exec(select(Producer).where(Producer.gln == gln)).first()
    if other is not None and other.id != producer_id:
        raise Conflict(_("GLN %(gln)s is already recorded for %(name)s.", gln=gln, name=other.name),
                       field="gln")


def set_gln(session: Session, user: User, producer: Producer, text: str) -> Producer:
    """Record, change or (with an empty text) clear a party's GLN (regulators, within their county); who
    recorded it and when are kept with it."""
    require_regulator_scope(user, producer.county_code)
    value = normalise_gln(text)
    if value:
        problem = gln_problem(value)
        if problem:
            raise ValidationError(problem, field="gln")
        _require_gln_free(session, value, producer.id)
    if (producer.gln or "") == value:
        return producer
    producer.gln = value or None
    producer.gln_recorded_by = user.id
    producer.gln_recorded_at = utcnow()
    session.add(producer)
    session.flush()
    return producer


def producer_by_gln(session: Session, text: str, field: str = "gln") -> Producer:
    """The registered party with this GLN: ValidationError for a malformed one, NotFound for an unknown
    one."""
    problem = gln_problem(text)
    if problem:
        raise ValidationError(problem, field=field)
    found = session.exec(select(Producer).where(Producer.gln == normalise_gln(text))).first()
    if found is None:
        raise NotFound(_("No party with GLN %(gln)s is registered.", gln=normalise_gln(text)), field=field)
    return found


def add_trademark(session: Session, user: User, producer: Producer, name: str, registration_no: str = "") -> Trademark:
    """Record the enterprise's own trademark."""
    _require_can_edit(user, producer)
    if not name.strip():
        raise ValidationError(_("A trademark name is required."), field="name")
    mark = Trademark(producer_id=producer.id, name=name.strip(), registration_no=registration_no.strip())
    session.add(mark)
    session.flush()
    return mark


def _require_can_edit(user: User, producer: Producer) -> None:
    if user.role == "producer":
        if user.producer_id != producer.id:
            raise NotFound(_("No such producer."), field="producer")
        return
    require_regulator_scope(user, producer.county_code)


def plots_of(session: Session, producer_id: int) -> list[Plot]:
    return list(session.exec(select(Plot).where(Plot.producer_id == producer_id).order_by(Plot.id)).all())


def trademarks_of(session: Session, producer_id: int) -> list[Trademark]:
    return list(session.exec(select(Trademark).where(Trademark.producer_id == producer_id).order_by(Trademark.id)
                             ).all())


def outputs_of(session: Session, producer_id: int) -> list[OutputRecord]:
    return list(session.exec(select(OutputRecord).where(OutputRecord.producer_id == producer_id)
                             .order_by(OutputRecord.year.desc())).all())


# --- output records --------------------------------------------------------------------------

def record_output(session: Session, user: User, producer: Producer, product: Product, year: int,
                  output_kg: float, output_value_yuan: float) -> OutputRecord:
    """Record (or correct) a producer's output of a product in a year: one row per producer, product, year."""
    _require_can_edit(user, producer)
    if year is None or not 2000 <= year <= 2100:
        raise ValidationError(_("The year must be between 2000 and 2100."), field="year")
    if output_kg is None or not 0 <= output_kg < 1e10:
        raise ValidationError(_("The output must be zero or a positive number of kilograms."), field="output_kg")
    if output_value_yuan is None or not 0 <= output_value_yuan < 1e13:
        raise ValidationError(_("The output value must be zero or a positive number of yuan."),
                              field="output_value_yuan")
    registered = session.exec(select(ProducerProduct).where(ProducerProduct.producer_id == producer.id,
                                                            ProducerProduct.product_id == product.id)).first()
    if registered is None:
        raise ValidationError(_("The producer is not registered for %(product)s.", product=product.name_zh),
                              field="product")
    record = session.exec(select(OutputRecord).where(OutputRecord.producer_id == producer.id,
                                                     OutputRecord.product_id == product.id,
                                                     OutputRecord.year == year)).first()
    if record is None:
        record = OutputRecord(producer_id=producer.id, product_id=product.id, year=year, output_kg=0.0,
                              output_value_yuan=0.0)
    record.output_kg = float(output_kg)
    record.output_value_yuan = float(output_value_yuan)
    session.add(record)
    session.flush()
    return record


# --- finding producers -----------------------------------------------------------------------

@dataclass
class ProducerFilter:
    """What the register's producer list can be narrowed by."""

    county_code: str = ""
    town_code: str = ""
    kind: str = ""
    product_id: Optional[int] = None
    q: str = ""


def scoped_county(user: User, wanted: str = "") -> str:
    """The county a user's list is limited to: a county regulator's own, else what was asked."""
    if user.role == "regulator" and user.county_code:
        return user.county_code
    return wanted or ""


def producers_query(user: User, filters: ProducerFilter):
    """A select of producers matching the filters, within the user's reach (not yet ordered or paged)."""
    query = select(Producer)
    county = scoped_county(user, filters.county_code)
    if county:
        query = query.where(Producer.county_code == county)
    if filters.town_code:
        query = query.where(Producer.town_code == filters.town_code)
    if filters.kind:
        query = query.where(Producer.kind == filters.kind)
    if filters.product_id:
        query = query.where(Producer.id.in_(select(ProducerProduct.producer_id)
                                            .where(ProducerProduct.product_id == filters.product_id)))
    text = filters.q.strip()
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Producer.name.like(like, escape="\\") | Producer.uscc.like(like.upper(), escape="\\")
                            | Producer.registry_no.like(like, escape="\\"))
    return query


def count_of(session: Session, query) -> int:
    """How many rows a select returns."""
    return session.exec(select(func.count()).select_from(query.subquery())).one()


# --- GI products -----------------------------------------------------------------------------

@dataclass
class ProductInput:
    """What an admin or city regulator gives to define a GI product (data, not code)."""

    slug: str
    name_zh: str
    name_en: str = ""
    holder: str = ""
    registrations: dict[str, str] = field(default_factory=dict)  # kind -> registration number
    towns: list[str] = field(default_factory=list)
    max_dried_yield_kg_per_mu: Optional[float] = None
    fresh_dried_ratio_min: Optional[float] = None
    fresh_dried_ratio_max: Optional[float] = None
    max_moisture_pct: Optional[float] = None
    season_start_mmdd: str = ""
    season_end_mmdd: str = ""
    target_share: float = 0.6
    package_sizes_kg: list[float] = field(default_factory=list)


MAX_PACKAGE_SIZES = 30


def parse_package_sizes(text: str) -> list[float]:
    """'0.25; 0.5, 1' -> [0.25, 0.5, 1.0] (sorted, distinct); ValueError naming the bad entry."""
    sizes = set()
    for part in (text or "").replace("；", ";").replace("，", ",").replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            value = round(float(part), 3)
        except ValueError:
            raise ValueError(part) from None
        if not 0.001 <= value <= 1000:
            raise ValueError(part)
        sizes.add(value)
    return sorted(sizes)


def require_product_editor(user: User) -> None:
    """Only admins and city-wide regulators define GI products."""
    if user.role == "admin" or (user.role == "regulator" and user.county_code is None):
        return
    raise Forbidden(_("Only admins and city-wide regulators can define GI products."))


def _valid_mmdd(value: str) -> bool:
    try:
        date.fromisoformat("2024-" + value)  # a leap year accepts 02-29
    except ValueError:
        return False
    return len(value) == 5


def check_product_input(data: ProductInput, regions: dict[str, Region]) -> None:
    """Raise ValidationError for the first problem with a product definition."""
    import re


    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", data.slug or "") or len(data.slug) > 64:
        raise ValidationError(_("The slug may contain only lower-case letters, digits and single hyphens."),
                              field="slug")
    if not data.name_zh.strip():
        raise ValidationError(_("A Chinese name is required."), field="name_zh")
    for kind in data.registrations:
        if kind not in PRODUCT_KINDS:
            raise ValidationError(_("Unknown kind of protection %(kind)s.", kind=kind), field="registrations")
    if not data.registrations:
        raise ValidationError(_("Choose at least one kind of protection."), field="registrations")
    if not data.towns:
        raise ValidationError(_("Choose the protected towns."), field="towns")
    for town in data.towns:
        if town not in regions or regions[town].level != "town":
            raise ValidationError(_("Unknown town code %(code)s.", code=town), field="towns")
    if data.max_dried_yield_kg_per_mu is not None and not 0 < data.max_dried_yield_kg_per_mu < 100000:
        raise ValidationError(_("The yield cap must be a positive number."), field="max_dried_yield_kg_per_mu")
    low, high = data.fresh_dried_ratio_min, data.fresh_dried_ratio_max
    for name, value in (("fresh_dried_ratio_min", low), ("fresh_dried_ratio_max", high)):
        if value is not None and not 1 <= value <= 100:
            raise ValidationError(_("A fresh-to-dried ratio is between 1 and 100."), field=name)
    if low is not None and high is not None and low > high:
        raise ValidationError(_("The lower ratio is above the upper one."), field="fresh_dried_ratio_max")
    if data.max_moisture_pct is not None and not 0 < data.max_moisture_pct <= 100:
        raise ValidationError(_("Moisture is a percentage between 0 and 100."), field="max_moisture_pct")
    for name in ("season_start_mmdd", "season_end_mmdd"):
        value = getattr(data, name)
        if value and not _valid_mmdd(value):
            raise ValidationError(_("Write the day as MM-DD, e.g. 06-15."), field=name)
    if data.target_share is None or not 0 < data.target_share <= 1:
        raise ValidationError(_("The target share is between 0 and 1, e.g. 0.6."), field="target_share")


def save_product(session: Session, user: User, data: ProductInput, product: Optional[Product] = None) -> Product:
    """Create a GI product, or update `product`: its data, kinds of protection and protected towns."""
    require_product_editor(user)
    data.slug = (data.slug or "").strip().lower()
    data.towns = list(dict.fromkeys(data.towns))
    check_product_input(data, region_names(session))
    clash = session.exec(select(Product).where(Product.slug == data.slug)).first()
    if clash is not None and (product is None or clash.id != product.id):
        raise ValidationError(_("Another product already uses this slug."), field="slug")
    if product is None:
        product = Product(slug=data.slug, name_zh=data.name_zh.strip())
    product.slug = data.slug
    product.name_zh = data.name_zh.strip()
    product.name_en = data.name_en.strip()
    product.holder = data.holder.strip()
    product.max_dried_yield_kg_per_mu = data.max_dried_yield_kg_per_mu
    product.fresh_dried_ratio_min = data.fresh_dried_ratio_min
    product.fresh_dried_ratio_max = data.fresh_dried_ratio_max
    product.max_moisture_pct = data.max_moisture_pct
    product.season_start_mmdd = data.season_start_mmdd or None
    product.season_end_mmdd = data.season_end_mmdd or None
    if len(data.package_sizes_kg) > MAX_PACKAGE_SIZES:
        raise ValidationError(_("At most %(n)s package sizes.", n=MAX_PACKAGE_SIZES), field="package_sizes")
    product.package_sizes_kg = [float(v) for v in data.package_sizes_kg] or None
    product.target_share = data.target_share
    session.add(product)
    session.flush()
    current = {r.kind: r for r in registrations_of(session, product.id)}
    for kind, registration in current.items():
        if kind not in data.registrations:
            session.delete(registration)
    for kind, number in data.registrations.items():
        registration = current.get(kind) or ProductRegistration(product_id=product.id, kind=kind)
        registration.registration_no = (number or "").strip()
        session.add(registration)
    towns = protected_towns(session, product.id)
    for row in session.exec(select(ProductTown).where(ProductTown.product_id == product.id)).all():
        if row.town_code not in data.towns:
            session.delete(row)
    for town in data.towns:
        if town not in towns:
            session.add(ProductTown(product_id=product.id, town_code=town))
    session.flush()
    return product


def registrations_of(session: Session, product_id: int) -> list:
    return list(session.exec(select(ProductRegistration).where(ProductRegistration.product_id == product_id)
                             .order_by(ProductRegistration.id)).all())


def producer_counts_by_product(session: Session) -> dict[int, int]:
    """How many producers are registered for each product."""
    rows = session.exec(select(ProducerProduct.product_id, func.count()).group_by(ProducerProduct.product_id)).all()
    return dict(rows)


# --- sector totals ---------------------------------------------------------------------------

def add_sector_total(session: Session, user: User, product: Product, year: int, county_code: Optional[str],
                     producers_total: Optional[int], output_value_yuan: Optional[float], source: str,
                     scope: str = "protected_area"):
    """Record an official count (county None = whole city); one row per product, year and county."""
    county_code = county_code or None
    if county_code is None:
        if user.role == "regulator" and user.county_code:
            raise Forbidden(_("Only city-wide regulators can record whole-city totals."))
    else:
        regions = region_names(session)
        if county_code not in regions or regions[county_code].level != "county":
            raise ValidationError(_("Unknown county code %(code)s.", code=county_code), field="county_code")
        require_regulator_scope(user, county_code)
    if user.role not in ("admin", "regulator"):
        raise Forbidden(_("Only regulators can do this."))
    if year is None or not 2000 <= year <= 2100:
        raise ValidationError(_("The year must be between 2000 and 2100."), field="year")
    if producers_total is None and output_value_yuan is None:
        raise ValidationError(_("Give the number of producers, the output value, or both."), field="producers_total")
    if producers_total is not None and producers_total < 0:
        raise ValidationError(_("The number of producers cannot be negative."), field="producers_total")
    if output_value_yuan is not None and output_value_yuan < 0:
        raise ValidationError(_("The output value must be zero or a positive number of yuan."),
                              field="output_value_yuan")
    if not (source or "").strip():
        raise ValidationError(_("Name the source of the figures."), field="source")
    if scope not in TOTAL_SCOPES:
        raise ValidationError(_("Say what the figures count."), field="scope")
    query = select(SectorTotal).where(SectorTotal.product_id == product.id, SectorTotal.year == year)
    query = query.where(SectorTotal.county_code.is_(None) if county_code is None
                        else SectorTotal.county_code == county_code)
    if session.exec(query).first() is not None:
        raise ValidationError(_("Figures for this product, year and area are already recorded."), field="year")
    total = SectorTotal(product_id=product.id, year=year, county_code=county_code, producers_total=producers_total,
                        output_value_yuan=output_value_yuan, source=source.strip(), scope=scope)
    session.add(total)
    session.flush()
    return total


def sector_totals(session: Session, user: User) -> list:
    """Official totals, newest first; a county regulator sees its county's and the whole city's."""
    query = select(SectorTotal).order_by(SectorTotal.year.desc(), SectorTotal.product_id, SectorTotal.county_code)
    if user.role == "regulator" and user.county_code:
        query = query.where((SectorTotal.county_code == user.county_code) | SectorTotal.county_code.is_(None))
    return list(session.exec(query).all())


def search_producers(session: Session, user: User, q: str, limit: int = 20) -> list[dict]:
    """Producers a form can pick without knowing their code: by name, credit code or registry number, town
    name or phone (a county regulator searches its county). Each: code, name, town name, kind."""
    q = (q or "").strip()[:100]
    if not q:
        return []
    regions = region_names(session)
    towns = [code for code, r in regions.items() if r.level == "town" and q in r.name_zh]
    like = f"%{q}%"
    query = select(Producer).where(
        (Producer.name.like(like)) | (Producer.uscc.like(q.upper() + "%")) | (Producer.registry_no.like(q + "%"))
        | (Producer.contact_phone.like(like)) | (Producer.town_code.in_(towns)))
    if user.role == "regulator" and user.county_code:
        query = query.where(Producer.county_code == user.county_code)
    rows = session.exec(query.order_by(Producer.name, Producer.id).limit(limit)).all()
    return [{"code": p.code, "name": p.name, "town": regions[p.town_code].name_zh if p.town_code in regions else "",
             "kind": p.kind} for p in rows if p.code]
