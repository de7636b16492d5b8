"""Chinese first: every user-facing message used in code or templates has a Chinese translation."""
from gi_trace.i18n_tools import extracted_messages, missing


def test_messages_are_extracted_from_code_and_templates():
    found = extracted_messages()
    assert "Log in" in found
    assert any(place.startswith("templates/") for places in found.values() for place in places)


def test_every_message_has_a_chinese_translation():
    todo = missing("zh")
    listing = "\n".join(f"{places[0]}: {msgid}" for msgid, places in sorted(todo.items()))
    assert not todo, f"{len(todo)} messages lack Chinese (run scripts/i18n.py):\n{listing}"
