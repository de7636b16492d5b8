from hypothesis import given
from hypothesis import strategies as st

from gi_trace.registry.uscc import ALPHABET, WEIGHTS, check_character, check_uscc


def test_weights_are_powers_of_three_mod_31():
    assert WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def test_worked_example_from_domain_notes_passes():
    result = check_uscc("912301847345944427")
    assert result.valid and result.check_ok
    assert sum(ALPHABET.index(c) * w for c, w in zip("91230184734594442", WEIGHTS)) == 1109


def test_wrong_check_character_is_a_warning_not_an_error():
    result = check_uscc("912301847345944428")
    assert result.valid
    assert not result.check_ok


def test_wrong_length_is_an_error():
    result = check_uscc("91230184734594442")
    assert result.error == "length" and result.detail == "17"


def test_letters_outside_the_alphabet_are_an_error():
    for bad in ("I", "O", "S", "V", "Z"):
        result = check_uscc("91230184734594442" + bad)
        assert result.error == "alphabet" and result.detail == bad


def test_lower_case_and_spaces_are_normalised():
    assert check_uscc(" 912301847345944427 ".lower()).check_ok


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_computed_check_character_always_verifies(body):
    assert check_uscc(body + check_character(body)).check_ok


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17), st.integers(0, 16), st.sampled_from(ALPHABET))
def test_any_single_substitution_is_caught(body, pos, ch):
    code = body + check_character(body)
    mutated = code[:pos] + ch + code[pos + 1:]
    if mutated != code:
        assert not check_uscc(mutated).check_ok


# --- properties added with the security work (issue 6) --------------------------------------

@given(st.text(max_size=40))
def test_any_text_is_judged_without_raising(text):
    result = check_uscc(text)
    code = text.strip().upper()
    assert result.valid == (len(code) == 18 and all(ch in ALPHABET for ch in code))
    if not result.valid:
        assert result.error in ("length", "alphabet")


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17), st.integers(0, 15))
def test_every_adjacent_swap_in_the_body_is_caught(body, pos):
    # weights 3^i mod 31: a swap changes the sum by (a - b)(3^i - 3^(i+1)) = -2(a - b)3^i, never 0 mod 31
    code = body + check_character(body)
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2:]
    if swapped != code:
        assert not check_uscc(swapped).check_ok
