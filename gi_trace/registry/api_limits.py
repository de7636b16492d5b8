"""Product-limits API under /api/v1: read a product's limits (any user), record a new version (city regulators)."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _

from gi_trace.access import ANY_USER, access, actor
from gi_trace.api import Load, api_bp, operation
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.registry import limits
from gi_trace.registry.schemas_limits import LimitsCreate, LimitsHistory, LimitsPublic, LimitsQuery
from gi_trace.registry.services import get_product
from gi_trace.timeutil import local_today

SLUG = {"slug": "The product's slug, e.g. zhongning-goji"}


@api_bp.get("/products/<slug>/limits")
@access(*ANY_USER)
@operation(query=LimitsQuery, responses={200: LimitsHistory}, errors={404: "Unknown product"}, path=SLUG)
def product_limits(slug: str, query: LimitsQuery):
    """A product's quality limits: the version in force on a day and every version with who recorded it."""
    session = get_session()
    product = get_product(session, slug)
    day = local_today()
    if query.on:
        try:
            day = date.fromisoformat(query.on)
        except ValueError:
            raise ValidationError(_("Give the date the limits take effect (YYYY-MM-DD)."), field="on") from None
    versions = limits.history(session, product)
    current = limits.pick(versions, day)
    return LimitsHistory(product=product.slug, on=day.isoformat(),
                         in_force=LimitsPublic.of(current) if current else None,
                         versions=[LimitsPublic.of(v) for v in versions])


@api_bp.post("/products/<slug>/limits")
@access("regulator", "admin")
@operation(body=LimitsCreate, responses={201: (LimitsPublic, "The new version")},
           errors={403: "Not a city regulator", 404: "Unknown product"}, path=SLUG)
def record_product_limits(slug: str, body: Load[LimitsCreate]):
    """Record a new version of a product's limits, in force from its effective date (earlier versions stay)."""
    session = get_session()
    limits.require_limits_editor(actor())
    product = get_product(session, slug)
    given = body()
    version = limits.record_limits(session, actor(), product, limits.LimitsInput(
        effective_from=given.effective_from, moisture_max_pct=given.moisture_max_pct,
        so2_max_mg_per_kg=given.so2_max_mg_per_kg, grade_scale=[g.model_dump(exclude_none=True)
                                                                for g in given.grade_scale],
        residue_limits=given.residue_limits, default_residue_mg_per_kg=given.default_residue_mg_per_kg,
        banned_substances=given.banned_substances, source=given.source))
    return LimitsPublic.of(version)
