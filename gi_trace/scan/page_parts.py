"""The record's part of a trace page (timeline, custody, harvests behind it, inputs), assembled from parts.

A family's pages mostly show the same things: every one of the 10,000 lots made from a harvest shows
the harvest's fifty-odd events, the harvest as its source and the inputs on its plots; only the lot's
own events differ. Each part of a page is a function of what never changes once written — an event
(and the event it corrects), a batch's events at a given head hash, a list of inputs — and of the
reference data (product definition, town names) and wording. `Parts` keeps the parts made for the
pages of one build, so a stored-page job makes each once instead of once per page:

- each timeline line (HTML, per event and language);
- the timeline of the batches behind a page (its ancestors' lines in order: the lots of one harvest
  share it), into which the page's own events are sorted;
- each harvest line, and the HTML below the timeline (custody, harvests, inputs) for the pages that
  show the same there.

A scan that builds a page live takes a fresh `Parts`: stored and live pages are made by the same code,
part for part. What each part is keyed by (see `history_html`) is everything it is made from besides
the reference data; `Parts` empties itself when the reference data it was made with is read again.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Optional

from flask_babel import force_locale
from markupsafe import Markup

from gi_trace.scan import history, inputs_text, page_text
from gi_trace.scan.read_path import MAX_SOURCES, MAX_TIMELINE_BATCHES, Record, ReferenceCache, _name


def texts_in(lang: str):
    """The page's sentences in `lang`, whatever the current request's language."""
    cached = page_text.cached_texts(lang)
    if cached is not None:
        return cached
    with force_locale(lang):
        return page_text.texts(lang)


class Parts:
    """Parts of pages made during one build, for reuse by its other pages (one per build and thread)."""

    LIMIT = 50_000  # lines kept at most (a rebuild of every page goes through millions of events)

    def __init__(self) -> None:
        self._ref: Optional[ReferenceCache] = None
        self._loaded_at = None
        self.macros = None  # scan/_history.html's macros (page_text.macros)
        self.lines: dict[tuple, Markup] = {}  # (lang, product id, event id, corrected event id) -> <li>
        self.behind: dict[tuple, list] = {}  # (lang, product id, ancestors) -> [(timeline key, line)], in order
        self.sources: dict[tuple, tuple] = {}  # (lang, ancestry row, events read) -> (text, town)
        self.rests: dict[tuple, tuple] = {}  # (lang, custody, sources, more, id(inputs)) -> (inputs, HTML)

    def using(self, ref: ReferenceCache) -> "Parts":
        """These parts for pages built with `ref` as it is now: emptied if its data was read again since."""
        if ref is not self._ref or ref.loaded_at != self._loaded_at or len(self.lines) > self.LIMIT:
            for kept in (self.lines, self.behind, self.sources, self.rests):
                kept.clear()
            self._ref, self._loaded_at = ref, ref.loaded_at
            self.macros = page_text.macros()
        return self


def history_html(row: tuple, record: Record, ref: ReferenceCache, lang: str,
                 parts: Optional[Parts] = None) -> Markup:
    """The record's part of a batch's page in one language, as stored and as a scan without a stored page
    prints it. `row`: the batch row (its product_id and the product's stage_template, grade_scale and
    max_moisture_pct); `parts`: those of the other pages of this build (default: none)."""
    parts = (parts or Parts()).using(ref)
    t = texts_in(lang)
    lines = _timeline(row, record, ref, t, lang, parts)

    sources = []
    for a in record.ancestry[:MAX_SOURCES]:
        if a.kind != "harvest":
            continue
        own = record.by_batch.get(a.id)  # read for the batches of the timeline only
        key = (lang, a, own is not None)  # a batch's events are fixed by its head hash (in `a`)
        made = parts.sources.get(key)
        if made is None:
            source = history.source(a, own or [], english=t.english, ref=ref)
            made = parts.sources[key] = (page_text.source_text(t, source), source.town)
        sources.append(made)

    custody = page_text.custody_lines(t, history.custody(record.ancestry, record.parties, english=t.english,
                                                         ref=ref))
    more_sources = len(record.ancestry) > MAX_SOURCES
    # The inputs list is shared by the batches behind the same plots (read_inputs.read_inputs_many) and kept
    # with the part, so its id is its own while the part is kept.
    key = (lang, tuple(map(tuple, custody)), tuple(sources), more_sources, id(record.inputs))
    made = parts.rests.get(key)
    if made is None or made[0] is not record.inputs:
        inputs = [(_name(*ref.region(line.town_code), t.english), line) for line in record.inputs]
        rest = {"custody": custody, "sources": [text for text, _town in sources],
                "towns": t.town_separator.join(dict.fromkeys(town for _text, town in sources if town)),
                "more_sources": more_sources,
                "inputs": inputs_text.inputs_section(t.english, inputs, bool(sources))}
        made = parts.rests[key] = (record.inputs, page_text.rest_html(parts.macros, t, rest))
    return page_text.history_html(parts.macros, t, lines, made[1])


def _timeline(row: tuple, record: Record, ref: ReferenceCache, t, lang: str, parts: Parts) -> list[Markup]:
    """The timeline's lines: the page's own events sorted into the (shared) timeline of the batches behind it."""
    batches = record.ancestry[:MAX_TIMELINE_BATCHES]
    if not batches:
        return []
    own, behind = batches[0], batches[1:]
    # A batch's events are fixed by its head hash; their order on the timeline by their depth.
    key = (lang, row.product_id, tuple((a.id, a.head_hash, a.depth) for a in behind))
    shared = parts.behind.get(key)
    if shared is None:
        shared = []
        for a in behind:
            shared += _entries(row, record.by_batch[a.id], a.depth, ref, t, lang, parts)
        shared.sort(key=itemgetter(0))
        parts.behind[key] = shared
    mine = _entries(row, record.by_batch[own.id], own.depth, ref, t, lang, parts)
    return [line for _key, line in (sorted(shared + mine, key=itemgetter(0)) if mine else shared)]


def _entries(row: tuple, events: list, depth: int, ref: ReferenceCache, t, lang: str, parts: Parts) -> list:
    """[(timeline key, line)] of one batch's events that the timeline shows."""
    entries = []
    stage_specs = None
    for ev in events:
        if history.told_elsewhere(ev):
            continue
        corrected = history.corrected_event(ev, events)
        key = (lang, row.product_id, ev.id, corrected.id if corrected is not None else None)
        line = parts.lines.get(key)
        if line is None:
            if stage_specs is None:
                stage_specs = history.stages(row)
            step = history.step(row, stage_specs, ev, corrected, english=t.english, ref=ref, words=t.words)
            line = parts.lines[key] = page_text.line_html(parts.macros, t, step)
        entries.append((history.timeline_key(ev, depth), line))
    return entries
