"""GTIN check digits and Digital Link paths (pure)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gi_trace.tracing import gs1

# Published examples: GS1 Digital Link standard (09506000134352), an EAN-13, a UPC-A and an EAN-8.
VALID = ["09506000134352", "4006381333931", "036000291452", "96385074", "10614141000415"]


@pytest.mark.parametrize("gtin", VALID)
def test_published_gtins_have_valid_check_digits(gtin):
    assert gs1.is_valid_gtin(gtin)
    assert gs1.gtin_problem(gtin) is None


@pytest.mark.parametrize("gtin,expected", [
    ("4006381333931", "04006381333931"), ("036000291452", "00036000291452"), ("96385074", "00000096385074"),
])
def test_shorter_gtins_are_padded_to_fourteen_digits(gtin, expected):
    assert gs1.gtin14(gtin) == expected
    assert gs1.is_valid_gtin(expected)


def test_wrong_check_digit_is_named_with_the_right_one():
    message = gs1.gtin_problem("09506000134353")
    assert message is not None and "2" in message
    with pytest.raises(ValueError, match="check"):
        gs1.gtin14("09506000134353")


@pytest.mark.parametrize("text,reason", [("09506000134", "length"), ("1234567", "length"), ("0950600013435X", "digits"),
                                         ("", "digits"), ("０９５０６０００１３４３５２", "digits")])
def test_malformed_gtins_are_rejected_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        gs1.gtin14(text)
    assert gs1.gtin_problem(text)


@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_any_body_with_its_check_digit_is_valid(body):
    assert gs1.is_valid_gtin(body + str(gs1.check_digit(body)))


@given(st.text(alphabet="0123456789", min_size=13, max_size=13), st.integers(0, 13), st.integers(1, 9))
def test_any_single_wrong_digit_is_caught(body, position, delta):
    gtin = body + str(gs1.check_digit(body))
    wrong = gtin[:position] + str((int(gtin[position]) + delta) % 10) + gtin[position + 1:]
    assert not gs1.is_valid_gtin(wrong)


@given(st.sampled_from([7, 11, 12]).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)))
def test_padding_keeps_a_short_gtin_valid(body):
    gtin = body + str(gs1.check_digit(body))
    assert gs1.is_valid_gtin(gs1.gtin14(gtin))


def test_digital_link_path_uses_the_gtin14_and_escapes_the_lot():
    assert gs1.digital_link_path("4006381333931", "LOT 7/A") == "/01/04006381333931/10/LOT%207%2FA"
    assert gs1.digital_link_path("09506000134352", "A1", "ZFN63SJZ7TZWRP") == \
        "/01/09506000134352/10/A1/21/ZFN63SJZ7TZWRP"


def test_lot_fits_gs1_ai_10():
    assert gs1.is_valid_lot("2026-ZN-07")
    assert not gs1.is_valid_lot("x" * 21)
    assert not gs1.is_valid_lot("批次1")


# --- properties added with the security work (issue 6) --------------------------------------

@given(st.text(alphabet="0123456789", min_size=13, max_size=13), st.integers(0, 12))
def test_adjacent_swaps_are_caught_unless_the_digits_differ_by_five(body, position):
    # Weights 3,1 alternate: a swap changes the sum by 2(a - b), invisible mod 10 exactly when |a - b| = 5.
    gtin = body + str(gs1.check_digit(body))
    a, b = gtin[position], gtin[position + 1]
    swapped = gtin[:position] + b + a + gtin[position + 2:]
    if a != b:
        assert gs1.is_valid_gtin(swapped) == (abs(int(a) - int(b)) == 5)


@given(st.text(max_size=20) | st.text(alphabet="0123456789 ", max_size=16))
def test_gtin14_of_any_text_is_a_valid_gtin14_or_a_value_error(text):
    try:
        result = gs1.gtin14(text)
    except ValueError:
        return
    assert len(result) == 14 and gs1.is_valid_gtin(result)
    assert result.lstrip("0") == text.replace(" ", "").strip().lstrip("0")


# --- issue 13: the serial (AI 21) a package carries -------------------------------------------

def test_a_unit_code_is_a_valid_ai_21_serial_with_at_least_60_random_bits():
    import math

    from gi_trace.tracing import codes

    assert codes.BODY_LENGTH * math.log2(len(codes.ALPHABET)) >= 60  # 13 × log2(31) ≈ 64.4 bits
    assert all(gs1.is_ai82(ch) for ch in codes.ALPHABET)  # only characters AI 21 allows
    for _ in range(200):
        code = codes.new_code()
        assert gs1.is_ai82(code) and codes.is_valid(code) and len(code) <= 20


def test_a_label_carries_a_digital_link_only_with_a_gtin():
    with_line = gs1.LabelIdentity("9506000134352", "ZN-2026-07")
    assert with_line.url("https://t.cn/", "ABCDEFGHJKMNP2", unit=True) == \
        "https://t.cn/01/09506000134352/10/ZN-2026-07/21/ABCDEFGHJKMNP2"
    assert with_line.url("https://t.cn", "ABCDEFGHJKMNP2", unit=False) == "https://t.cn/01/09506000134352/10/ZN-2026-07"
    assert with_line.human_readable("ABCDEFGHJKMNP2", unit=True) == [
        "(01)09506000134352", "(10)ZN-2026-07", "(21)ABCDEFGHJKMNP2"]
    no_lot = gs1.LabelIdentity("09506000134352", None)
    assert no_lot.url("https://t.cn", "ABCDEFGHJKMNP2", unit=True) == "https://t.cn/01/09506000134352/21/ABCDEFGHJKMNP2"
    assert no_lot.url("https://t.cn", "ABCDEFGHJKMNP2", unit=False) == "https://t.cn/t/ABCDEFGHJKMNP2"
    assert gs1.LabelIdentity().url("https://t.cn", "ABCDEFGHJKMNP2", unit=True) == "https://t.cn/t/ABCDEFGHJKMNP2"
    assert gs1.LabelIdentity().human_readable("ABCDEFGHJKMNP2", unit=True) is None


def test_lot_numbers_entered_keep_to_ai_10_less_what_a_uri_escapes():
    assert gs1.is_valid_lot("ZN-2026.07_A(1)") and gs1.is_valid_lot("A" * 20)
    for lot in ("A" * 21, "L/1", "L?1", "L%1", "L&1", "L<1", "L>1", 'L"1', "L 1", "批1", ""):
        assert not gs1.is_valid_lot(lot), lot
    assert gs1.lot_problem("ZN-07") is None and gs1.lot_problem("ZN/07")
