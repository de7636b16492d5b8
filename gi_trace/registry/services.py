"""Register services: producers, products, plots, output. Plain functions over a session; no commits."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Forbidden, NotFound, ValidationError
from gi_trace.registry.models import (
    PRODUCER_KINDS,
    OutputRecord,
    Plot,
    Producer,
    ProducerProduct,
    Product,
    ProductTown,
    Region,
    Trademark,
)
from gi_trace.registry.uscc import check_uscc


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
    address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    products: list[str] = field(default_factory=list)


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
    county = regions.get(data.county_code)
    if county is None or county.level != "county":
        problems.append(FieldProblem("county_code", _("Unknown county code %(code)s.", code=data.county_code)))
    town = regions.get(data.town_code)
    if town is None or town.level != "town":
        problems.append(FieldProblem("town_code", _("Unknown town code %(code)s.", code=data.town_code)))
    elif county is not None and town.parent_code != county.code:
        problems.append(FieldProblem("town_code", _("Town %(town)s is not in county %(county)s.",
                                                    town=data.town_code, county=data.county_code)))
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
    producer = Producer(
        uscc=data.uscc or None, registry_no=data.registry_no or None, uscc_check_ok=not warnings,
        uscc_warning_accepted_by=user.id if warnings else None, name=data.name.strip(), kind=data.kind,
        county_code=data.county_code, town_code=data.town_code, address=data.address,
        contact_name=data.contact_name, contact_phone=data.contact_phone, created_by=user.id,
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
