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
