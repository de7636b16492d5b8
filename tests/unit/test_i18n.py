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


def test_no_message_has_two_chinese_translations():
    """The areas' catalogues are merged into one: a message translated twice shows whichever catalogue is
    loaded last, on every page that uses it ("rejected" as 已驳回 for an application and 拒收 for a shipment
    made "这笔发货已被已驳回"). One message, one Chinese text: a different meaning needs its own message."""
    from babel.messages.pofile import read_po

    from gi_trace.i18n import translation_dirs

    found: dict[str, dict[str, str]] = {}
    for directory in translation_dirs():
        po = directory / "zh" / "LC_MESSAGES" / "messages.po"
        if po.exists():
            with po.open("rb") as fh:
                for message in read_po(fh):
                    if message.id and message.string:
                        key = message.id[0] if isinstance(message.id, tuple) else message.id
                        text = message.string[0] if isinstance(message.string, tuple) else message.string
                        found.setdefault(key, {}).setdefault(text, str(directory))
    twice = {msgid: texts for msgid, texts in found.items() if len(texts) > 1}
    assert not twice, "\n".join(f"{msgid!r}: {texts}" for msgid, texts in twice.items())
