"""Find user-facing messages that have no Chinese translation (used by a test and scripts/i18n.py)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from gi_trace.config import PROJECT_ROOT
from gi_trace.i18n import translation_dirs

KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2),
            "lazy_ngettext": (1, 2)}
METHODS = [("**.py", "python"), ("**.html", "jinja2")]
OPTIONS = {"**.html": {"extensions": "jinja2.ext.do"}}


def extracted_messages() -> dict[str, list[str]]:
    """msgid -> places it is used, from the package and the templates."""
    found: dict[str, list[str]] = {}
    for root in (PROJECT_ROOT / "gi_trace", PROJECT_ROOT / "templates"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
                root, METHODS, options_map=OPTIONS, keywords=KEYWORDS):
            if "i18n_tools" in filename:
                continue
            msgids = message if isinstance(message, tuple) else (message,)
            for msgid in msgids:
                if msgid:
                    found.setdefault(msgid, []).append(f"{root.name}/{filename}:{lineno}")
    return found


def translated(locale: str = "zh") -> dict[str, str]:
    """msgid -> translation, merged over every area's catalog."""
    result: dict[str, str] = {}
    for directory in translation_dirs():
        po = directory / locale / "LC_MESSAGES" / "messages.po"
        if po.exists():
            with po.open("rb") as fh:
                for message in read_po(fh):
                    if message.id and message.string:
                        key = message.id[0] if isinstance(message.id, tuple) else message.id
                        result[key] = message.string[0] if isinstance(message.string, tuple) else message.string
    return result


def missing(locale: str = "zh") -> dict[str, list[str]]:
    """Messages used in code or templates that no catalog translates."""
    done = translated(locale)
    return {msgid: places for msgid, places in extracted_messages().items() if msgid not in done}


def po_entry(msgid: str, msgstr: str = "") -> str:
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'msgid "{esc(msgid)}"\nmsgstr "{esc(msgstr)}"\n'


def po_header() -> str:
    return ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: zh\\n"\n\n')


def catalog_path(area_dir: Path, locale: str = "zh") -> Path:
    return area_dir / "translations" / locale / "LC_MESSAGES" / "messages.po"
