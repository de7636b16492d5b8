"""The public register as JSON, for e-commerce platforms: who may use a GI mark on a date, and a check of
one business by its unified social credit code. No token needed; the API's per-address rate limit applies."""
from __future__ import annotations

from datetime import date
from typing import Optional

from flask_babel import gettext as _

from gi_trace.access import PUBLIC, access
from gi_trace.api import api_bp, operation
from gi_trace.authorisation import register
from gi_trace.authorisation.schemas import AuthorisedUsers, CheckQuery, RegisterCheck, RegisterQuery
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.registry.models import Region
from gi_trace.registry.services import get_product
from gi_trace.registry.uscc import normalise as normalise_uscc
from gi_trace.timeutil import local_today, parse_iso_date

_ERRORS = {404: "Unknown product"}


def _on(text: Optional[str]) -> date:
    text = (text or "").strip()
    if not text:
        return local_today()
    try:
        on = parse_iso_date(text)
    except ValueError:
        raise ValidationError(_("The date must be written YYYY-MM-DD."), field="on") from None
    if not 2000 <= on.year <= 2100:
        raise ValidationError(_("The date is out of range."), field="on")
    return on


def _product(session, slug: str):
    if not slug.strip():
        raise ValidationError(_("Choose a product."), field="product")
    return get_product(session, slug.strip())


@api_bp.get("/register/authorised-users")
@access(PUBLIC)
@operation(query=RegisterQuery, responses={200: AuthorisedUsers}, errors=_ERRORS)
def authorised_users(query: RegisterQuery):
    """Public register: the users authorised to use a product's GI special mark on a date (paged)."""
    session = get_session()
    product = _product(session, query.product)
    county = (query.county or "").strip()
    if county:
        region = session.get(Region, county)
        if region is None or region.level != "county":
            raise ValidationError(_("Unknown county code %(code)s.", code=county), field="county")
    return AuthorisedUsers.model_validate(register.authorised_users_page(
        session, product, _on(query.on), county_code=county, offset=query.offset, limit=query.limit))


@api_bp.get("/register/check")
@access(PUBLIC)
@operation(query=CheckQuery, responses={200: RegisterCheck}, errors=_ERRORS)
def check(query: CheckQuery):
    """Check one business: may it use the GI mark of this product on this date?"""
    session = get_session()
    product = _product(session, query.product)
    uscc = normalise_uscc(query.uscc)
    if len(uscc) != 18:
        raise ValidationError(_("The unified social credit code must have 18 characters, not %(n)s.", n=len(uscc)),
                              field="uscc")
    return RegisterCheck.model_validate(register.check(session, uscc, product, _on(query.on)))
