"""Chinese first, English available.

Message ids are English; each area of the app keeps its own catalog under
`<area>/translations/<locale>/LC_MESSAGES/messages.po`, merged at run time. Catalogs are
compiled to `.mo` on start when missing or older than their `.po`, so editing a `.po` is enough.
"""
from __future__ import annotations

from pathlib import Path

from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale, gettext
from wtforms.i18n import messages_path

from gi_trace.extensions import babel

PACKAGE_DIR = Path(__file__).resolve().parent
LANG_COOKIE = "lang"


def translation_dirs() -> list[Path]:
    """Every `translations` folder in the package."""
    return sorted(p for p in PACKAGE_DIR.rglob("translations") if p.is_dir())


def compile_catalogs(dirs: list[Path] | None = None) -> int:
    """Compile each `.po` whose `.mo` is missing or stale; return how many were written."""
    written = 0
    for directory in dirs or translation_dirs():
        for po in directory.glob("*/LC_MESSAGES/*.po"):
            mo = po.with_suffix(".mo")
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            with po.open("rb") as fh:
                catalog = read_po(fh)
            try:
                with mo.open("wb") as fh:
                    write_mo(fh, catalog)
            except OSError:  # read-only install: the build step compiled them
                continue
            written += 1
    return written


def select_locale() -> str:
    """?lang= (also remembered in a cookie), else the cookie, else Chinese."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and scripts: messages in the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    wanted = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if wanted in languages:
        return wanted
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _remember_locale(response):
    wanted = request.args.get("lang")
    if wanted in current_app.config["LANGUAGES"] and request.cookies.get(LANG_COOKIE) != wanted:
        response.set_cookie(LANG_COOKIE, wanted, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


class FormMessages:
    """WTForms' own messages ("This field is required.", number ranges), this app's catalogues first: where
    WTForms' Chinese says something else ("Number must be at least 1" as 数值必须大于 1, "greater than 1")
    or in programmers' words (浮点数), gi_trace/web/wtforms_i18n has the words; WTForms' catalogue the rest.
    Flask-WTF takes it from `request.wtforms_translations`, set for each request by `init_app`."""

    _wtforms: dict[str, support.NullTranslations] = {}

    def _theirs(self) -> support.NullTranslations:
        locale = str(get_locale())
        if locale not in self._wtforms:
            self._wtforms[locale] = support.Translations.load(messages_path(), [locale], domain="wtforms")
        return self._wtforms[locale]

    def ugettext(self, string: str) -> str:
        ours = gettext(string)
        return ours if ours != string else self._theirs().ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return self._theirs().ungettext(singular, plural, n)


FORM_MESSAGES = FormMessages()


def _form_messages() -> None:
    request.wtforms_translations = FORM_MESSAGES


def init_app(app: Flask) -> None:
    dirs = translation_dirs()
    compile_catalogs(dirs)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in dirs)
    babel.init_app(app, locale_selector=select_locale)
    app.after_request(_remember_locale)
    app.before_request(_form_messages)
