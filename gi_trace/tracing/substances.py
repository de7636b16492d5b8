"""The pesticide substances the product limits know (residue limits and banned substances), by their Standard
InChIKey, so an EPCIS sensor report names a residue as a trading partner's repository can match it
(`chemicalSubstance`: https://identifiers.org/inchikey:<key>, as EPCIS 2.0 / CBV 2.0 ask).

Every key was read off a public page giving the Standard InChIKey of that exact substance (source in the
comment); a substance whose key could not be checked that way is not listed: it is exported by name only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from gi_trace.tracing.epcis_ids import SULFUR_DIOXIDE, WATER
from gi_trace.tracing.quality import substance_key

INCHIKEY_URI = "https://identifiers.org/inchikey:"


@dataclass(frozen=True)
class Substance:
    name_zh: str
    name_en: str  # ISO common name
    inchikey: str  # Standard InChIKey

    @property
    def uri(self) -> str:
        return INCHIKEY_URI + self.inchikey


SUBSTANCES: tuple[Substance, ...] = (
    # https://friendlywiki.com/article/index.php?title=imidacloprid (chembox StdInChIKey)
    Substance("吡虫啉", "imidacloprid", "YWTYJOPNNQFBPC-UHFFFAOYSA-N"),
    # The (E) isomer, as the chembox gives it:
    # https://wonilvalve.com/index.php?q=Https%3A%2F%2Fen.m.wikipedia.org%2Fwiki%2FAcetamiprid
    Substance("啶虫脒", "acetamiprid", "WCXDHFDTOYPNIE-RIYZIHGNSA-N"),
    # https://friendlywiki.com/article/index.php?title=%3ACarbendazim (chembox StdInChIKey)
    Substance("多菌灵", "carbendazim", "TWFZGCMQGLPBSX-UHFFFAOYSA-N"),
    # The racemic pair of lambda-cyhalothrin (a two-component InChI), not cyhalothrin nor gamma-cyhalothrin:
    # https://wikiclassic.com/wiki/Chyalothrin ("Lambda: InChI=1S/2C23H19ClF3NO3/…") and
    # http://sitem.herts.ac.uk/aeru/ppdb/en/Reports/415.htm (PPDB, lambda-cyhalothrin)
    Substance("高效氯氟氰菊酯", "lambda-cyhalothrin", "BFPGVJIMBRLFIR-GUCBCRIZSA-N"),
    # https://review.clateway.com/wiki/view_html.php?q=Parathion&sq=Qlik (parathion-ethyl) and
    # https://zalansite.site/mediawiki/index.php?action=edit&title=Parathion (chembox StdInChIKey)
    Substance("对硫磷", "parathion", "LCCNCVORNKJIRZ-UHFFFAOYSA-N"),
)

_BY_NAME = {substance_key(name): s for s in SUBSTANCES for name in (s.name_zh, s.name_en)}
_BY_URI = {s.uri: s for s in SUBSTANCES}


def by_name(name: object) -> Optional[Substance]:
    """The substance of a recorded residue name (Chinese or English, compared as tracing.quality compares
    names), if the table knows it."""
    return _BY_NAME.get(substance_key(name)) if isinstance(name, str) and name.strip() else None


def by_uri(uri: object) -> Optional[Substance]:
    """The substance an InChIKey URI names, if the table knows it."""
    return _BY_URI.get(uri) if isinstance(uri, str) else None


def is_pesticide_uri(value: object) -> bool:
    """An InChIKey URI other than water's and sulfur dioxide's (the other substances a goji test measures)."""
    return isinstance(value, str) and value.startswith(INCHIKEY_URI) and value not in (WATER, SULFUR_DIOXIDE)
