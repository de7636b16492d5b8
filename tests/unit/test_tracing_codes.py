from hypothesis import given
from hypothesis import strategies as st

from gi_trace.tracing import codes


def test_new_codes_are_valid_and_fourteen_characters():
    for _ in range(200):
        code = codes.new_code()
        assert len(code) == 14 and codes.is_valid(code)


def test_alphabet_has_no_look_alikes():
    for ch in "01ILO":
        assert ch not in codes.ALPHABET


def test_at_least_sixty_random_bits():
    import math

    assert codes.BODY_LENGTH * math.log2(len(codes.ALPHABET)) >= 60


def test_display_and_typed_forms_parse_back():
    code = codes.new_code()
    assert codes.parse(codes.display(code)) == code
    assert codes.parse(" " + codes.display(code).lower().replace("-", " ") + " ") == code


@given(st.text(alphabet=codes.ALPHABET, min_size=13, max_size=13), st.integers(0, 13),
       st.sampled_from(codes.ALPHABET))
def test_every_single_substitution_is_caught(body, pos, ch):
    code = body + codes.check_character(body)
    mutated = code[:pos] + ch + code[pos + 1:]
    if mutated != code:
        assert not codes.is_valid(mutated)


@given(st.text(alphabet=codes.ALPHABET, min_size=13, max_size=13), st.integers(0, 12))
def test_every_adjacent_swap_is_caught(body, pos):
    code = body + codes.check_character(body)
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2:]
    if swapped != code:
        assert not codes.is_valid(swapped)


def test_garbage_is_rejected():
    for text in ("", "abc", "0" * 14, "<script>", "A" * 100):
        assert codes.parse(text) is None


# --- properties added with the security work (issue 6) --------------------------------------

@given(st.text())
def test_parse_never_raises_and_returns_only_valid_codes(text):
    parsed = codes.parse(text)
    assert parsed is None or (codes.is_valid(parsed) and codes.parse(parsed) == parsed)


@st.composite
def typed_forms(draw):
    """A valid code as a person might type it: any case, any grouping with spaces, hyphens, dots."""
    body = draw(st.text(alphabet=codes.ALPHABET, min_size=13, max_size=13))
    code = body + codes.check_character(body)
    typed = "".join(draw(st.sampled_from([ch, ch.lower()])) + draw(st.sampled_from(["", "", " ", "-", ".", "  "]))
                    for ch in code)
    return code, draw(st.sampled_from(["", " "])) + typed


@given(typed_forms())
def test_any_typed_grouping_or_case_parses_back(pair):
    code, typed = pair
    assert codes.parse(typed) == code
    assert codes.parse(codes.display(code)) == code


@given(st.text(alphabet=codes.ALPHABET, min_size=13, max_size=13), st.integers(0, 13), st.sampled_from("01OILU"))
def test_look_alike_characters_never_make_a_valid_code(body, pos, ch):
    code = body + codes.check_character(body)
    mutated = code[:pos] + ch + code[pos + 1:]
    if ch in codes.ALPHABET:  # U is in the alphabet: then it is an ordinary substitution
        assert mutated == code or not codes.is_valid(mutated)
    else:
        assert codes.parse(mutated) is None


# --- reading what people type on phones ---------------------------------------------------------

def _a_code() -> str:
    from gi_trace.tracing import codes

    return codes.new_code()


def test_read_accepts_full_width_dashes_spaces_and_lower_case():
    from gi_trace.tracing import codes

    code = _a_code()
    shown = codes.display(code)
    full_width = "".join(chr(ord(c) + 0xFEE0) if c != "-" else "－" for c in shown)
    for typed in (shown, shown.lower(), full_width, shown.replace("-", "—"), shown.replace("-", " "),
                  shown.replace("-", "\u3000"), f"  {code.lower()}  ", shown.replace("-", "–")):
        assert codes.read(typed).code == code, typed


def test_read_takes_a_pasted_trace_or_digital_link_url():
    from gi_trace.tracing import codes

    code = _a_code()
    assert codes.read(f"https://trace.example.cn/t/{code}?lang=en").code == code
    assert codes.read(f"扫码结果：https://trace.example.cn/t/{code}").code == code
    reading = codes.read("https://trace.example.cn/01/06901234567892/10/L-1/21/7")
    assert reading.digital_link == "/01/06901234567892/10/L-1/21/7" and reading.code is None


def test_read_says_precisely_what_is_wrong():
    from gi_trace.tracing import codes

    code = _a_code()
    short = codes.read(code[:-1])
    assert (short.problem, short.count) == ("short", 1)
    assert codes.read(code + "A").problem == "long"
    bad = codes.read(code[:4] + "O" + code[5:])
    assert (bad.problem, bad.char, bad.position) == ("character", "O", 5)
    i = codes.ALPHABET.index(code[0])
    typo = codes.ALPHABET[(i + 1) % 31] + code[1:]
    assert codes.read(typo).problem == "check"
    assert codes.read("  ").problem == "empty"
