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
    # Phosphamidon as used, an E/Z mixture: the key without a stereo layer, as PPDB gives it
    # http://sitem.herts.ac.uk/aeru/ppdb/en/Reports/522.htm
    Substance("磷胺", "phosphamidon", "RGCLLPNLLBQHPF-UHFFFAOYSA-N"),
    # https://hyperlinked.wiki/wiki.php?slug=Aldicarb and https://wikimili.com/en/Aldicarb (the (E) oxime, as
    # the chembox gives it)
    Substance("涕灭威", "aldicarb", "QGLZXHRNAYXIBU-WEVVVXLNSA-N"),
    # https://www.vulcanchem.com/product/vc522692 ("Standard InChI Key" beside the Standard InChI; achiral)
    # and https://www.smolecule.com/products/s522692 (the same InChI and InChI Key)
    Substance("克百威", "carbofuran", "DUEPRVBVGDRKAG-UHFFFAOYSA-N"),
)
# Left out, no page found giving the Standard InChIKey of that exact substance: 阿维菌素 abamectin (a mixture
# of avermectin B1a and B1b: a component's key would name another substance), 苯醚甲环唑 difenoconazole,
# 哒螨灵 pyridaben, 甲胺磷 methamidophos, 甲基对硫磷 parathion-methyl, 久效磷 monocrotophos, 甲拌磷 phorate,
# 氧乐果 omethoate, 水胺硫磷 isocarbophos, 毒死蜱 chlorpyrifos (only its deuterated standard's key was found),
# 三唑磷 triazophos. They are exported by name (gt:substance) only.

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
