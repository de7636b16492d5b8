"""User-facing names of the register's codes (kinds of producer and of protection)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

PRODUCER_KIND_LABELS = {
    "enterprise": _l("Enterprise"),
    "cooperative": _l("Cooperative"),
    "family_farm": _l("Family farm"),
    "household": _l("Household"),
    "trader": _l("Trader"),
    "processor": _l("Processor"),
    "market": _l("Market operator"),
    "retailer": _l("Retailer"),
}

PRODUCT_KIND_LABELS = {
    "certification_mark": _l("Certification mark"),
    "gi_protected_product": _l("GI-protected product"),
    "agricultural_gi": _l("Agricultural GI"),
    "collective_mark": _l("Collective mark"),
}
