"""Trace codes: short, human-readable, unguessable, with a check character. Pure functions.

A code is 13 random characters from a 31-character alphabet without look-alikes (no 0/O, 1/I/L)
— 13 × log2(31) ≈ 64.4 random bits — plus one check character: 14 characters in all, printed in
groups as `ABCD-EFGH-JKMN-PQ`. The check character is the weighted sum mod 31 with weights 1..13:
31 is prime and the weights are distinct and non-zero, so every single wrong character and every
swap of two neighbours is caught before any database lookup.
"""
from __future__ import annotations

import re
import secrets
import unicodedata
import urllib.parse
from dataclasses import dataclass
from typing import Optional

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
assert len(ALPHABET) == 31
BODY_LENGTH = 13
CODE_LENGTH = BODY_LENGTH + 1
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_SEPARATORS = re.compile(r"[\s\-_.]+")


def check_character(body: str) -> str:
    """The check character for a 13-character body."""
    total = sum((i + 1) * _INDEX[ch] for i, ch in enumerate(body))
    return ALPHABET[total % 31]


def new_code() -> str:
    """A fresh random code (cryptographically random body + check character)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_character(body)


def normalise(text: str) -> str:
    """Upper-case, drop spaces and hyphens; what a person typed becomes the compact form."""
    return _SEPARATORS.sub("", (text or "").strip()).upper()


def is_valid(code: str) -> bool:
    """True when a compact code has the right length, alphabet and check character."""
    if len(code) != CODE_LENGTH or any(ch not in _INDEX for ch in code):
        return False
    return check_character(code[:BODY_LENGTH]) == code[BODY_LENGTH]


def parse(text: str) -> str | None:
    """The compact code if `text` is a well-formed code (any grouping or case), else None."""
    code = normalise(text)
    return code if is_valid(code) else None


def display(code: str) -> str:
    """The grouped form printed under a QR code: ABCD-EFGH-JKMN-PQ."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


# --- reading what a person typed or pasted ---------------------------------------------------------

# Any dash (hyphen, en/em dash, minus, full-width and small forms), space, dot or underscore.
_TYPED_SEPARATORS = re.compile(r"[\s\-_.\u00ad\u2010-\u2015\u2212\u2e3a\u2e3b\u30fc\ufe58\ufe63\uff0d\u3000·・]+")
_TRACE_PATH = re.compile(r"/t/([^/?#\s]+)")
_DIGITAL_LINK = re.compile(r"/01/(\d{14})(?:/10/([^/?#\s]+))?(?:/21/([^/?#\s]+))?")
# The human-readable line printed under a GTIN label's QR, as typed: (01)<gtin>(10)<lot>[(21)<serial>]
# or (01)<gtin>(21)<serial>, with or without spaces between the element strings.
_ELEMENT_STRINGS = re.compile(r"^\(01\)\s*(\d{14})\s*(?:\(10\)\s*([^\s()]+))?\s*(?:\(21\)\s*([^\s()]+))?$")
# Characters left out of the alphabet because they look like others.
LOOK_ALIKES = {"0": "O", "O": "0", "1": "I", "I": "1", "L": "1"}


@dataclass(frozen=True)
class Reading:
    """What a typed or pasted text is: a code (compact), a Digital Link path, or a precise problem.

    problem: "" (fine), "empty", "character" (a character that cannot occur; `char`, `position`),
    "short" / "long" (`missing` / `extra` characters), "check" (one character is probably mistyped).
    """

    code: Optional[str] = None
    digital_link: Optional[str] = None
    problem: str = ""
    char: str = ""
    position: int = 0
    count: int = 0


def read(text: str) -> Reading:
    """Read a code as Chinese phones type it: full-width letters and digits, any dash or space, lower
    case, a pasted trace URL (…/t/CODE) or GS1 Digital Link (…/01/GTIN/10/LOT[/21/SERIAL]), or the GS1
    line printed under a GTIN label's QR ((01)GTIN (10)LOT (21)SERIAL)."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    url_code = _TRACE_PATH.search(text)
    if url_code:
        text = urllib.parse.unquote(url_code.group(1))
    else:
        link = _DIGITAL_LINK.search(text)
        if link:
            path = (f"/01/{link.group(1)}" + (f"/10/{link.group(2)}" if link.group(2) else "")
                    + (f"/21/{link.group(3)}" if link.group(3) else ""))
            return Reading(digital_link=path)
        printed = _ELEMENT_STRINGS.match(text)
        if printed and (printed.group(2) or printed.group(3)):
            lot = f"/10/{urllib.parse.quote(printed.group(2), safe='')}" if printed.group(2) else ""
            serial = f"/21/{urllib.parse.quote(printed.group(3), safe='')}" if printed.group(3) else ""
            return Reading(digital_link=f"/01/{printed.group(1)}{lot}{serial}")
    compact = _TYPED_SEPARATORS.sub("", text).upper()
    if not compact:
        return Reading(problem="empty")
    for i, ch in enumerate(compact):
        if ch not in _INDEX:
            return Reading(problem="character", char=ch, position=i + 1)
    if len(compact) < CODE_LENGTH:
        return Reading(problem="short", count=CODE_LENGTH - len(compact))
    if len(compact) > CODE_LENGTH:
        return Reading(problem="long", count=len(compact) - CODE_LENGTH)
    if check_character(compact[:BODY_LENGTH]) != compact[BODY_LENGTH]:
        return Reading(problem="check")
    return Reading(code=compact)
