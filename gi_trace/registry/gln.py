"""GS1 check digits and Global Location Numbers (GLN, 全球位置码). Pure functions.

Every GS1 key of fixed length (GTIN-8/12/13/14, GLN, SSCC) ends in the same mod-10 check digit: from the
right, the other digits are weighted 3, 1, 3, 1, …, and the check digit brings the weighted sum up to a
multiple of ten. `check_digit` lives here, below tracing (tracing.gs1 checks GTINs with it), so the register
can check a party's GLN. A GLN names a party or a place with 13 digits; as a party it is GS1 AI (417), and
its GS1 Digital Link URI is `<resolver>/417/<gln>`.
"""
from __future__ import annotations

from typing import Optional

from flask_babel import gettext as _

GLN_LENGTH = 13
PARTY_AI = "417"


def check_digit(body: str) -> int:
    """The mod-10 check digit for the digits before it (any GS1 key length)."""
    if not body.isdigit() or not body.isascii():
        raise ValueError("digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalise(text: Optional[str]) -> str:
    """A GLN as typed, without surrounding or inner spaces."""
    return (text or "").strip().replace(" ", "")


def gln_error(text: Optional[str]) -> Optional[str]:
    """What is wrong with a GLN, as a reason code: "digits", "length", "check"; None when it is valid."""
    value = normalise(text)
    if not value.isascii() or not value.isdigit():
        return "digits"
    if len(value) != GLN_LENGTH:
        return "length"
    if check_digit(value[:-1]) != int(value[-1]):
        return "check"
    return None


def is_valid_gln(text: Optional[str]) -> bool:
    return isinstance(text, str) and text == normalise(text) and gln_error(text) is None


def gln_problem(text: Optional[str]) -> Optional[str]:
    """A user-facing message for what is wrong with a GLN, or None when it is valid."""
    reason = gln_error(text)
    if reason == "digits":
        return _("A GLN has digits only.")
    if reason == "length":
        return _("A GLN has 13 digits, not %(n)s.", n=len(normalise(text)))
    if reason == "check":
        value = normalise(text)
        return _("The check digit of GLN %(gln)s is wrong: it should end in %(digit)s.", gln=value,
                 digit=check_digit(value[:-1]))
    return None
