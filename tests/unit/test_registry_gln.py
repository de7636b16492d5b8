"""GLN (GS1 Global Location Number) checks: 13 digits, the GS1 mod-10 check digit shared with GTINs."""
import pytest

from gi_trace.registry import gln
from gi_trace.tracing import gs1

VALID = "6901234567892"  # a 13-digit GS1 key with a correct check digit (GTIN-13 and GLN share the rule)


def test_the_check_digit_is_the_one_gtins_use():
    assert gs1.check_digit is gln.check_digit
    assert gln.check_digit("690123456789") == 2


@pytest.mark.parametrize("text", [VALID, " 6901234567892 ", "690 1234 567892"])
def test_a_valid_gln_is_accepted_spaces_aside(text):
    assert gln.gln_error(text) is None and gln.normalise(text) == VALID


@pytest.mark.parametrize("text, reason", [
    ("6901234567891", "check"), ("6901234567890", "check"),
    ("690123456789", "length"), ("06901234567892", "length"), ("", "digits"),
    ("69012345678A2", "digits"), ("６９０１２３４５６７８９２", "digits"), ("690123456789\x002", "digits"),
])
def test_a_bad_gln_says_what_is_wrong(text, reason):
    assert gln.gln_error(text) == reason
    assert not gln.is_valid_gln(text)


@pytest.mark.parametrize("body", ["000000000000", "697123400001", "999999999999", "400638133393"])
def test_any_body_with_its_check_digit_is_valid_and_every_other_last_digit_is_not(body):
    right = gln.check_digit(body)
    assert gln.is_valid_gln(body + str(right))
    assert [d for d in range(10) if gln.gln_error(body + str(d)) is None] == [right]
