"""The pesticide substances an EPCIS export names by InChIKey (tracing.substances): well-formed Standard
InChIKeys, one substance per key, only substances the product limits know, found by name as tracing.quality
compares names."""
from __future__ import annotations

import re

from gi_trace.registry.reference import GOJI_DEMO_LIMITS
from gi_trace.tracing import substances
from gi_trace.tracing.epcis_ids import SULFUR_DIOXIDE, WATER

# A Standard InChIKey: 14 letters (skeleton), 8 letters (stereo, isotopes) + S (standard) + A (version 1),
# 1 letter (protonation), all upper case.
STANDARD_INCHIKEY = re.compile(r"^[A-Z]{14}-[A-Z]{8}SA-[A-Z]$")


def test_every_key_is_a_well_formed_standard_inchikey_of_one_substance():
    assert substances.SUBSTANCES
    for substance in substances.SUBSTANCES:
        assert STANDARD_INCHIKEY.match(substance.inchikey), substance
        assert substance.uri == "https://identifiers.org/inchikey:" + substance.inchikey
    keys = [s.inchikey for s in substances.SUBSTANCES]
    names = [n for s in substances.SUBSTANCES for n in (s.name_zh, s.name_en.casefold())]
    assert len(set(keys)) == len(keys) and len(set(names)) == len(names)
    assert not {WATER, SULFUR_DIOXIDE} & {s.uri for s in substances.SUBSTANCES}


def test_the_table_lists_only_substances_the_product_limits_know():
    known = set(GOJI_DEMO_LIMITS["residue_limits"]) | set(GOJI_DEMO_LIMITS["banned_substances"])
    assert {s.name_zh for s in substances.SUBSTANCES} <= known


def test_a_substance_is_found_by_its_chinese_or_english_name_as_quality_compares_names():
    imidacloprid = substances.by_name("吡虫啉")
    assert imidacloprid is not None and imidacloprid.inchikey == "YWTYJOPNNQFBPC-UHFFFAOYSA-N"
    assert substances.by_name(" 吡虫啉 ") is imidacloprid and substances.by_name("Imidacloprid") is imidacloprid
    assert substances.by_name("吡虫啉A") is None and substances.by_name("") is None
    assert substances.by_name(None) is None
    assert substances.by_uri(imidacloprid.uri) is imidacloprid
    assert substances.by_uri(imidacloprid.uri.lower()) is None and substances.by_uri(3) is None


def test_water_and_sulfur_dioxide_are_no_pesticide():
    assert not substances.is_pesticide_uri(WATER) and not substances.is_pesticide_uri(SULFUR_DIOXIDE)
    assert substances.is_pesticide_uri(substances.SUBSTANCES[0].uri)
    assert substances.is_pesticide_uri("https://identifiers.org/inchikey:AAAAAAAAAAAAAA-BBBBBBBBSA-N")
    assert not substances.is_pesticide_uri("https://example.org/吡虫啉")
    assert not substances.is_pesticide_uri(None)
