"""What the trace page prints, as plain strings: verdict, warnings, timeline lines, in the request's language.

Every sentence is translated once per process and language (`texts`); a page view only formats
them with its dates and numbers, so the template is a flat list of `{{ ... }}` with nothing to
decide. Values typed by producers stay plain text here and are escaped by Jinja.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup

from gi_trace import formatting as fmt
from gi_trace.authorisation import rules
from gi_trace.authorisation.services import state_label
from gi_trace.scan import history, read_path, verdict
from gi_trace.scan.complaints import category_label
from gi_trace.scan.models import COMPLAINT_CATEGORIES
from gi_trace.scan.services import ScanCount

_TEXTS: dict[str, SimpleNamespace] = {}


def cached_texts(locale: str):
    """The sentences in `locale` if a request in that language has already made them, else None."""
    return _TEXTS.get(locale)


def texts(locale: str) -> SimpleNamespace:
    """The page's sentences in the current request's language (cached per language)."""
    cached = _TEXTS.get(locale)
    if cached is not None:
        return cached
    t = SimpleNamespace(
        english=locale == "en",
        genuine=_("Genuine GI-traced product"),
        headlines={
            verdict.SELLABLE: "✔ " + _("Genuine GI-traced product"),  # the one green headline
            verdict.NOT_GI: "✘ " + _("Not to be sold as a GI product"),
            verdict.RECALLED: "⚠ " + _("Recalled"),  # as the recall notice (templates/scan/_recall_notice.html)
            verdict.SUSPICIOUS: "⚠ " + _("Check this package before you trust it"),
        },
        test_failed_items=_("The quality test failed: %(items)s."),
        test_ungraded=_("The quality test found the goji below the lowest grade, so it may not carry the GI mark."),
        test_report=_("Test report %(no)s"),
        cleared=_("Passed on re-test (first test failed: %(items)s)"),
        cleared_plain=_("Passed on re-test (the first test failed)"),
        cleared_reports=_("Re-test report %(no)s; first test report %(earlier)s"),
        cleared_by_regulator=_("The failure was cleared by a regulator's recorded decision."),
        record_broken_reason=_("The record does not verify: an entry has been changed or removed since it was "
                               "recorded."),
        not_authorised=_("The producer may not use the GI mark for this product"),
        trace_code=_("Trace code"),
        package_no=_("package No. %(n)s"),
        today=_("Today (%(date)s)"),
        made=_("When the batch was made (%(date)s)"),
        states={
            rules.AUTHORISED: _("Authorised to use the GI mark since %(date)s"),
            rules.SUSPENDED: _("Suspended since %(date)s"),
            rules.REVOKED: _("Revoked on %(date)s"),
            rules.EXPIRED: _("Expired on %(date)s"),
            rules.REJECTED: _("Application rejected on %(date)s"),
            rules.PENDING: _("Application pending: not authorised"),
            rules.NONE: _("Not authorised to use the GI mark"),
        },
        state_labels={state: state_label(state) for state in rules.STATES},
        revoked_warning=_("Warning: the producer's right to use the GI mark was revoked on %(date)s. Its products "
                          "may no longer carry the GI mark."),
        suspended_warning=_("Warning: the producer's right to use the GI mark has been suspended since %(date)s. "
                            "Until it is reinstated its products may not carry the GI mark."),
        made_while_authorised=_("This batch was made on %(date)s, while the producer was still authorised."),
        made_unauthorised=_("Warning: when this batch was made (%(date)s) the producer's authorisation was "
                            "%(state)s. This batch may not carry the GI mark."),
        test_failed=_("This batch failed its quality test and may not carry the GI label."),
        untested=_("This batch has not passed a quality test yet, so it may not carry the GI label."),
        unit_seen=_("This code has been scanned from %(n)s different networks, first on %(date)s. Each package "
                    "has its own code, normally scanned only by the people who bought it. If these were not you or "
                    "your family, check the packaging and report it below."),
        batch_seen=_("This batch code has been scanned from %(n)s different networks, first on %(date)s."),
        scanned=_("Scanned %(n)s times; first scanned on %(date)s."),
        first_scan=_("This is the first scan of this code."),
        gi_mark=_("GI mark"),
        grade=_("Grade"),
        grains=_("%(n)s grains per 50 g"),
        producer_and_origin=_("Producer and origin"),
        uscc=_("Unified social credit code"),
        registry_no=_("Registry number"),
        origin=_("Origin"),
        timeline=_("From plot to shelf"),
        no_steps=_("No stages recorded yet."),
        corrects=_("Corrects the entry of %(date)s: %(reason)s"),
        where_from=_("Where it came from"),
        harvested_in=_("Harvested in"),
        fresh=_("%(kg)s fresh"),
        no_sources=_("No harvest is linked to this batch."),
        custody=_("Chain of custody"),
        household=_("Household"),
        unregistered_grower=_("Grower not on the register (origin declared)"),
        households=_("%(n)s households"),
        origin_declared=_("Part of this product was bought from growers who are not registered: its origin is "
                          "declared, not verified, so it may not carry the GI mark."),
        origin_outside=_("Part of this product was not harvested in the protected towns, so it may not carry the "
                         "GI mark."),
        origin_break=_("(source batch %(code)s)"),
        record_check=_("Record check"),
        verifies=_("The record verifies: each of its %(n)s entries is sealed with the one before it, so none has "
                   "been changed since it was recorded."),
        broken=_("The record does not verify: an entry has been changed or removed since it was recorded. "
                 "Please report this."),
        report=_("Report a problem"),
        report_intro=_("Something wrong with this product or its label? Tell the market regulator."),
        categories=[(c, category_label(c)) for c in COMPLAINT_CATEGORIES],
        town_separator="、" if locale != "en" else ", ",
        colon="：" if locale != "en" else ": ",
        words=history.Words(
            yes=_("yes"), no=_("no"), passed=_("passed"), failed=_("failed"), test_result=_("Test result"),
            grade=_("Grade"),
            system_stages={"split": _("Split into lots"), "merge": _("Merged"), "withdrawal": _("Withdrawn"),
                           "receiving": _("Received from the seller"), "purchase": _("Bought at the market"),
                           "return": _("Refused by the buyer, back in stock")},
        ),
    )
    _TEXTS[locale] = t
    return t


def kg(value, english: bool = False) -> str:
    """1234.5 -> '1,234.5 公斤' / '1,234.5 kg'."""
    return fmt.kg(value, "en" if english else "zh")


_DAYS: dict = {}  # (value, english) -> text: a family's pages repeat the same few dozen dates


def _day(value, english: bool) -> str:
    """An ISO date string of the record (or a date) as people read it."""
    if not value:
        return ""
    key = (value, english)
    text = _DAYS.get(key)
    if text is None:
        if len(_DAYS) > 20000:
            _DAYS.clear()
        text = _DAYS[key] = fmt.day(value, "en" if english else "zh")
    return text


def line_text(t: SimpleNamespace, s: history.Step) -> list[str]:
    """One timeline line as plain strings in one language: [on, label, detail, facts, correction]."""
    detail = " · ".join(x for x in (s.place, kg(s.quantity_kg, t.english) if s.quantity_kg is not None else "") if x)
    facts = ("; " if t.english else "；").join(f"{label}{t.colon}{value}" for label, value in s.facts)
    correction = (t.corrects % {"date": _day(s.corrects, t.english), "reason": s.correction_reason}
                  if s.corrects else "")
    return [_day(s.on, t.english), s.label, detail, facts, correction]


def source_text(t: SimpleNamespace, src: history.Source) -> str:
    """A harvest behind the product as one line: when picked, where, how much fresh."""
    text = (_day(src.on, t.english) + (f" – {_day(src.last_on, t.english)}" if src.last_on else "")
            + f" · {src.town or '—'}")
    if src.fresh_kg:
        text += " · " + t.fresh % {"kg": kg(src.fresh_kg, t.english)}
    return text


def custody_lines(t: SimpleNamespace, holders: list) -> list[list[str]]:
    """The chain of custody as [[on, name], ...] (households by town, never by name)."""
    custody = []
    for holder in holders:
        if holder.kind == "declared":
            name = f"{t.unregistered_grower} · {t.town_separator.join(holder.towns) or '—'}"
        elif holder.kind == "household":
            name = f"{t.household} · {t.town_separator.join(holder.towns) or '—'}"
            if holder.households > 1:
                name += f" ({t.households % {'n': holder.households}})"
        else:
            name = holder.name + (f" · {holder.towns[0]}" if holder.towns else "")
        custody.append([_day(holder.on, t.english) if holder.on else "", name])
    return custody


HISTORY_TEMPLATE = "scan/_history.html"  # its macros print the stored part of a page


def macros():
    """The macros of HISTORY_TEMPLATE, for `line_html`, `rest_html` and `history_html` (calling a macro costs
    a fifth of rendering a template: scan.page_parts calls them for every stored page)."""
    return current_app.jinja_env.get_template(HISTORY_TEMPLATE).module


def line_html(m, t: SimpleNamespace, s: history.Step) -> Markup:
    """One timeline line as HTML (`line_text`'s strings escaped); `m`: `macros()`."""
    return m.line(*line_text(t, s))


def rest_html(m, t: SimpleNamespace, rest: dict) -> Markup:
    """The record's part below the timeline as HTML. `rest`: {"custody": custody_lines(...), "sources":
    [source_text(...), ...], "towns": text, "more_sources": bool, "inputs": inputs_text.inputs_section(...)}."""
    return m.rest(t, rest)


def history_html(m, t: SimpleNamespace, lines: list, rest: Markup) -> Markup:
    """The record's part of the page as HTML, what a stored page keeps: the timeline's lines (`line_html`, in
    order) and the rest (`rest_html`); assembled by `scan.page_parts`."""
    return m.page(t, Markup("\n".join(lines) + "\n" if lines else ""), rest)


@dataclass
class View:
    """The trace page as strings (escaped by the template)."""

    ok: bool  # the headline is green (verdict "sellable"); when False nothing below it is green
    headline: str
    code_line: str  # after the code: the package number of a unit code
    status: list  # [(label, css class, text)]
    alerts: list  # [(css class, text)]
    scans_line: str
    product: str
    marks_trademark: str
    product_line: str
    producer: str
    producer_id_line: str
    origin_line: str
    verifies: bool
    chain_line: str
    gi_mark: bool = True  # False when some kilograms' origin is not verified: the page shows no GI mark
    state: str = verdict.SELLABLE  # scan.verdict state
    tone: str = "ok"  # the headline's css class: ok (green), bad (red), warn (amber)
    test_lines: list = field(default_factory=list)  # what the tests say, under the headline


_TONE_CLASS = {"green": "ok", "red": "bad", "amber": "warn"}


def _status_text(t: SimpleNamespace, status: rules.Status) -> str:
    text = t.states.get(status.state, t.states[rules.NONE])
    since = status.authorised_since if status.state == rules.AUTHORISED and status.authorised_since else status.since
    return text % {"date": _day(since, t.english)} if "%(date)s" in text else text


def _items(t: SimpleNamespace, items) -> str:
    return ("; " if t.english else "；").join(items)


def test_lines(t: SimpleNamespace, test: verdict.TestEvidence) -> list[str]:
    """What the tests say beside the verdict: a failure with its items, or a cleared failure with both reports."""
    lines = []
    if test.state == "cleared":
        lines.append(t.cleared % {"items": _items(t, test.earlier_failures)} if test.earlier_failures
                     else t.cleared_plain)
        if test.report_no or test.earlier_report_no:
            lines.append(t.cleared_reports % {"no": test.report_no or "—", "earlier": test.earlier_report_no or "—"})
        if test.cleared_by == "regulator":  # (a re-test needs no words: the reports say it)
            lines.append(t.cleared_by_regulator)
    elif test.state in ("failed", "ungraded") and test.report_no:
        lines.append(t.test_report % {"no": test.report_no})
    return lines


def reason_lines(t: SimpleNamespace, page: read_path.TracePage, found: verdict.Verdict) -> list[tuple[str, str]]:
    """(css class, sentence) for each reason of the verdict, in its order."""
    b = page.batch
    english = t.english
    st, sm = page.status_today, page.status_made
    made = _day(page.made_on, english)
    lines: list[tuple[str, str]] = []
    for reason in found.reasons:
        if reason == verdict.NOT_AUTHORISED_TODAY:
            if st.state in (rules.REVOKED, rules.SUSPENDED):
                warning = t.revoked_warning if st.state == rules.REVOKED else t.suspended_warning
                text = warning % {"date": _day(st.since, english)}
                if sm.in_force:
                    text += " " + t.made_while_authorised % {"date": made}
            else:
                text = t.not_authorised
            lines.append(("alert", text))
        elif reason == verdict.NOT_AUTHORISED_MADE:
            lines.append(("alert", t.made_unauthorised % {"date": made,
                                                         "state": t.state_labels.get(sm.state, sm.state)}))
        elif reason in (verdict.ORIGIN_DECLARED, verdict.ORIGIN_OUTSIDE):
            text = t.origin_declared if reason == verdict.ORIGIN_DECLARED else t.origin_outside
            if page.origin_break and page.origin_break != b.code:
                text += " " + t.origin_break % {"code": page.origin_break}
            lines.append(("alert", text))
        elif reason == verdict.TEST_FAILED:
            failures = found.test.failures if found.test else ()
            lines.append(("alert", t.test_failed_items % {"items": _items(t, failures)} if failures
                          else t.test_failed))
        elif reason == verdict.TEST_UNGRADED:
            items = found.test.failures if found.test else ()
            detail = (f" ({_items(t, items)})" if english else f"（{_items(t, items)}）") if items else ""
            lines.append(("alert", t.test_ungraded + detail))
        elif reason == verdict.UNTESTED:
            lines.append(("alert", t.untested))
        elif reason == verdict.RECORD_BROKEN:
            lines.append(("alert", t.record_broken_reason))
    return lines


def build(t: SimpleNamespace, page: read_path.TracePage, scan: ScanCount, code_display: str, first_scanned: str,
          verifies: bool, entries: int, found: verdict.Verdict) -> View:
    """Turn the live facts, the verdict (scan.verdict), the record's chain check (stored or just made) and the
    scan count into what the template prints, in order (the record's timeline and sources come as HTML:
    `history_html`). Below a headline that is not green, nothing is printed as reassurance."""
    b = page.batch
    english = t.english
    ok = found.green
    st, sm = page.status_today, page.status_made
    code_line = (" · " + t.package_no % {"n": page.serial}) if page.kind == "unit" else ""
    made = _day(page.made_on, english)
    status = [(t.today % {"date": _day(page.today, english)}, f"s-{st.state}" if ok else "s-neutral",
               _status_text(t, st)),
              (t.made % {"date": made}, f"s-{sm.state}" if ok else "s-neutral", _status_text(t, sm))]
    alerts = reason_lines(t, page, found)
    if scan.flagged:  # raised on distinct networks or days, never on repeated scans from one network
        seen = t.unit_seen if page.kind == "unit" else t.batch_seen
        alerts.append(("caution", seen % {"n": scan.networks, "date": first_scanned}))
    scans_line = (t.scanned % {"n": scan.scans, "date": first_scanned}) if scan.scans > 1 else t.first_scan

    details = []
    if b.grade:  # stored by its Chinese name: the product's grade scale has its English one
        grade = next((read_path._name(g.get("grade"), g.get("grade_en"), english) for g in b.grade_scale or ()
                      if g.get("grade") == b.grade), b.grade)
        grains = t.grains % {"n": b.grains_per_50g}
        details.append(f"{t.grade} {grade}" + ((f" ({grains})" if english else f"（{grains}）")
                                              if b.grains_per_50g else ""))
    if b.cultivar:
        details.append(b.cultivar)
    details.append(kg(page.package_kg if page.kind == "unit" and page.package_kg else b.quantity_kg, english))
    producer_id_line = ""
    # A household is a person: the public page names it by its town, never by the farmer's name.
    producer = b.producer_name
    if b.producer_kind == "household":
        producer = f"{t.household} · {read_path._name(b.ptown_zh, b.ptown_en, english) or '—'}"
    if b.uscc or b.registry_no:
        producer_id_line = f"{t.uscc if b.uscc else t.registry_no}{t.colon}{b.uscc or b.registry_no}"
    origin = read_path._name(b.origin_zh, b.origin_en, english) or read_path._name(b.ptown_zh, b.ptown_en, english)
    county = read_path._name(b.county_zh, b.county_en, english)
    origin_line = f"{t.origin}{t.colon}{origin}" + ((", " if english else "，") + county if county else "")
    if not verifies:
        chain_line = "✘ " + t.broken
    else:  # a sealed record of a product that may not be sold is no reassurance: no tick
        chain_line = (("✔ " if ok else "") + t.verifies % {"n": entries})
    return View(ok=ok, headline=t.headlines[found.state], code_line=code_line, status=status, alerts=alerts,
                scans_line=scans_line, product=read_path._name(b.product_zh, b.product_en, english),
                marks_trademark=b.trademark_name or "", product_line=" · ".join(details), producer=producer,
                producer_id_line=producer_id_line, origin_line=origin_line, verifies=verifies, chain_line=chain_line,
                gi_mark=page.origin_verified, state=found.state, tone=_TONE_CLASS[found.tone],
                test_lines=test_lines(t, found.test) if found.test else [])
