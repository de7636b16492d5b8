"""No codes or raw data on screen: every page and export, in Chinese and in English, for the public,
a producer and a regulator — no stage/status code, no ISO timestamp, no "3000.0", no JSON brace."""
from __future__ import annotations

import csv
import io
import zipfile

import pytest

from tests.conftest import login
from tests.ui import walk


def _export_text(response) -> tuple[str, bool]:
    """An export's text and whether plain ISO dates are acceptable in it (sortable columns)."""
    mimetype = response.mimetype
    body = response.get_data()
    if mimetype == "text/csv":
        rows = csv.reader(io.StringIO(body.decode("utf-8-sig")))
        return "\n".join("\t".join(r) for r in rows), True
    if "spreadsheetml" in mimetype:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(body), read_only=True)
        cells = [str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                 for c in row if c is not None and not isinstance(c, (int, float))]
        return "\n".join(cells), True
    if mimetype == "application/zip":
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                             if n.endswith((".csv", ".txt"))), True
    return "", True


@pytest.mark.parametrize("role", [None, "producer", "regulator"])
def test_no_codes_or_raw_data_in_visible_text(app, role):
    world = walk.seeded_world(app)
    client = app.test_client()
    if role == "producer":
        login(client, world.users["producer_a"].username)
    elif role == "regulator":
        login(client, world.users["regulator_city"].username)
    failures, pages = [], 0
    for url in walk.portal_urls(app, world, role):
        for lang in ("zh", "en"):
            sep = "&" if "?" in url else "?"
            response = client.get(f"{url}{sep}lang={lang}")
            if response.status_code in (301, 302, 303):
                continue
            assert response.status_code < 500, f"{url} ({lang}): {response.status_code}"
            if response.mimetype == "text/html":
                text, dates_ok = walk.visible_text(response.get_data(as_text=True)), False
                failures += [f"{url} [{lang}] <{tag}> is no HTML element: escape it"
                             for tag in walk.unknown_elements(response.get_data(as_text=True))]
                if lang == "zh":
                    failures += [f"{url} [zh] label left in English: {t!r}"
                                 for t in walk.untranslated_labels(response.get_data(as_text=True))]
            elif response.mimetype == "application/pdf":
                continue  # the PDF label sheet prints codes by design
            else:
                text, dates_ok = _export_text(response)
            pages += 1
            identifiers = url.startswith(walk.IDENTIFIER_HEADERS)
            for problem in walk.problems(text, lang, dates_allowed=dates_ok, identifiers=identifiers):
                if not any(u in problem for u in world.usernames):
                    failures.append(f"{url} [{lang}] {problem}")
    print(f"\nvisible text: {pages} pages and exports checked as {role or 'public'}")
    assert pages > 10
    assert not failures, "\n".join(failures)
