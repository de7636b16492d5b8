"""/verify reads what Chinese phones type and says precisely what is wrong (issue 16)."""
from __future__ import annotations

import pytest

from gi_trace.tracing import codes
from tests.factories_scan import lot_from_tested_harvest


@pytest.fixture
def lot(app):
    """A lot made in its own context, closed before the requests (a pushed context would keep the
    language of the first request for the others)."""
    from sqlmodel import Session

    from gi_trace.db import get_engine
    from tests import factories

    with app.test_request_context(), Session(get_engine(app), expire_on_commit=False) as s:
        factories.bind(s)
        try:
            _grower, _harvest, lot = lot_from_tested_harvest(s)
            s.commit()
        finally:
            factories.bind(None)
    return lot


def _full_width(text: str) -> str:
    return "".join("－" if c == "-" else chr(ord(c) + 0xFEE0) for c in text)


def test_full_width_dashes_and_pasted_links_open_the_page(client, lot):
    shown = codes.display(lot.code)
    for typed in (_full_width(shown), shown.replace("-", "—").lower(), shown.replace("-", "　"),
                  f"https://trace.example.cn/t/{lot.code}"):
        response = client.get("/verify", query_string={"code": typed})
        assert response.status_code == 303, typed
        assert response.headers["Location"].endswith(f"/t/{lot.code}"), typed


def test_a_pasted_digital_link_goes_to_the_resolver(client, lot):
    response = client.get("/verify", query_string={"code": "https://x.cn/01/06901234567892/10/L-1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/01/06901234567892/10/L-1")
    response = client.get("/verify", query_string={"code": "https://x.cn/01/06901234567892/21/ABCDEFGHJKMNP2"})
    assert response.headers["Location"].endswith("/01/06901234567892/21/ABCDEFGHJKMNP2")


@pytest.mark.parametrize("typed,path", [
    ("(01)06901234567892 (10)L-1 (21)ABCDEFGHJKMNP2", "/01/06901234567892/10/L-1/21/ABCDEFGHJKMNP2"),
    ("(01)06901234567892(10)ZN.7", "/01/06901234567892/10/ZN.7"),
    ("（01）06901234567892 （21）ABCDEFGHJKMNP2", "/01/06901234567892/21/ABCDEFGHJKMNP2"),  # full-width brackets
])
def test_the_printed_gs1_line_typed_goes_to_the_resolver(client, lot, typed, path):
    response = client.get("/verify", query_string={"code": typed})
    assert response.status_code == 303 and response.headers["Location"].endswith(path)


@pytest.mark.parametrize("mangle,zh,en", [
    (lambda c: c[:-1], "少了一个字符", "one character short"),
    (lambda c: c[:-3], "少了3个字符", "3 characters short"),
    (lambda c: c + "AB", "多了2个字符", "2 characters too many"),
    (lambda c: c[:2] + "O" + c[3:], "第3个字符“O”不会出现在追溯码中", "Character 3, “O”, cannot occur"),
    (lambda c: codes.ALPHABET[(codes.ALPHABET.index(c[0]) + 1) % 31] + c[1:], "一个字符可能输错了",
     "One character may have been mistyped"),
])
def test_each_mistake_is_named_beside_the_field(client, lot, mangle, zh, en):
    typed = mangle(lot.code)
    response = client.get("/verify", query_string={"code": typed})
    assert response.status_code == 422 and zh in response.get_data(as_text=True)
    response = client.get("/verify", query_string={"code": typed, "lang": "en"})
    assert en in response.get_data(as_text=True)
