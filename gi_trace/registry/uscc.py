"""Unified social credit code (统一社会信用代码, GB 32100-2015) checks. Pure functions."""
from __future__ import annotations

from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, ...
LENGTH = 18


@dataclass(frozen=True)
class UsccCheck:
    """The result of checking a code: an error refuses it, a warning can be accepted by a regulator."""

    code: str
    error: str | None = None  # "length" or "alphabet"
    detail: str = ""  # the length found, or the characters outside the alphabet
    check_ok: bool = True

    @property
    def valid(self) -> bool:
        return self.error is None


def check_character(first17: str) -> str:
    """The check character for the first 17 characters."""
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    return (code or "").strip().upper()


def check_uscc(code: str) -> UsccCheck:
    """Length and alphabet are errors; a failed check character is only a warning."""
    code = normalise(code)
    if len(code) != LENGTH:
        return UsccCheck(code, error="length", detail=str(len(code)))
    bad = sorted({ch for ch in code if ch not in ALPHABET})
    if bad:
        return UsccCheck(code, error="alphabet", detail="".join(bad))
    return UsccCheck(code, check_ok=check_character(code[:17]) == code[17])
