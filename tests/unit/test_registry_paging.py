"""Page numbers for long lists."""
from gi_trace.registry.paging import page_of


def test_page_numbers_are_clamped_and_junk_means_first_page():
    assert page_of(None, 120, 50).number == 1
    assert page_of("3", 120, 50).number == 3 and page_of("3", 120, 50).offset == 100
    assert page_of("99", 120, 50).number == 3
    assert page_of("-4", 120, 50).number == 1
    assert page_of("abc", 120, 50).number == 1
    empty = page_of("2", 0, 50)
    assert empty.number == 1 and empty.pages == 1 and not empty.has_next and not empty.has_prev
    middle = page_of("2", 120, 50)
    assert middle.has_prev and middle.has_next
