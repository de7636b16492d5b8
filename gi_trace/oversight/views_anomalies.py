"""Anomalies in one list, for regulators."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from gi_trace.access import access, actor
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.oversight import anomalies as a
from gi_trace.oversight.dashboard import products
from gi_trace.registry.services import get_product

bp = Blueprint("oversight_anomalies", __name__, url_prefix="/oversight")
bp.add_app_template_global(a.kind_label, "anomaly_kind_label")


@bp.get("/anomalies")
@access("regulator", "admin")
def anomalies():
    """Plausibility and counterfeit flags, dormant authorised users, labels beyond output."""
    session = get_session()
    all_products = products(session)
    slug = request.args.get("product") or (all_products[0].slug if all_products else "")
    product = get_product(session, slug)
    kind = request.args.get("kind") or None
    if kind is not None and kind not in a.KINDS:
        raise ValidationError(_("Unknown kind."), field="kind")
    rows = a.anomalies(session, actor(), product, kind=kind)
    return render_template("oversight/anomalies.html", rows=rows, product=product, products=all_products, kind=kind,
                           kinds=a.KINDS)
