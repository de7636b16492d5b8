"""The inputs section of the trace page as plain strings in one language (what a stored page keeps).

Kept apart from `page_text` so the section is its own piece: `history_text` adds `inputs_section(...)`
to the stored record and `scan/_inputs.html` prints it. No plot names and no applicants: a household's
plot and its members are personal data; the town stands for the plot.
"""
from __future__ import annotations

from types import SimpleNamespace

from flask_babel import force_locale
from flask_babel import gettext as _

from gi_trace import formatting as fmt
from gi_trace.scan.read_inputs import MAX_LINES

TEMPLATE = "scan/_inputs.html"
_TEXTS: dict[str, SimpleNamespace] = {}


def texts(lang: str) -> SimpleNamespace:
    """The section's sentences in `lang` (made once per process and language)."""
    cached = _TEXTS.get(lang)
    if cached is not None:
        return cached
    with force_locale(lang):
        t = SimpleNamespace(
            title=_("Fertiliser and pesticide use on the plots (%(seasons)s season)"),
            title_plain=_("Fertiliser and pesticide use on the plots"),
            intro=_("As recorded by the producer for the plots this product was picked from."),
            none=_("No fertiliser or pesticide application is recorded for these plots in this season."),
            registration=_("registration no. %(no)s"),
            dose=_("dose %(dose)s"),
            interval=_("safety interval %(days)s, harvest from %(date)s"),
            more=_("and %(n)s more"),
            kinds={k: fmt.label("input_kind", k, lang) for k in ("pesticide", "fertiliser", "other")},
        )
    _TEXTS[lang] = t
    return t


def inputs_section(english: bool, inputs: list, has_sources: bool) -> dict:
    """{"title", "intro", "lines": [[date, kind, text], ...], "none", "more"}; {} when nothing is behind the batch."""
    if not inputs and not has_sources:
        return {}
    lang = "en" if english else "zh"
    t = texts(lang)
    sep = "; " if english else "；"
    lines = []
    for town, line in inputs[:MAX_LINES]:
        parts = [line.product_name + (f" ({line.active_ingredient})" if line.active_ingredient and english
                                      else f"（{line.active_ingredient}）" if line.active_ingredient else "")]
        if line.registration_no:
            parts.append(t.registration % {"no": line.registration_no})
        if line.dose:
            parts.append(t.dose % {"dose": line.dose})
        if line.earliest_harvest is not None:
            parts.append(t.interval % {"days": fmt.days(line.safety_interval_days, lang),
                                       "date": fmt.day(line.earliest_harvest, lang)})
        if town:
            parts.append(town)
        lines.append([fmt.day(line.applied_on, lang), t.kinds.get(line.kind, line.kind), sep.join(parts)])
    seasons = sorted({line.season for _town, line in inputs})
    years = (", " if english else "、").join(map(str, seasons))
    return {"title": t.title % {"seasons": years} if seasons else t.title_plain,
            "intro": t.intro, "lines": lines, "none": "" if inputs else t.none,
            "more": t.more % {"n": len(inputs) - MAX_LINES} if len(inputs) > MAX_LINES else ""}
