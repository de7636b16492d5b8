"""Count the form fields a producer fills to record a harvest from planting to two packing lots.

Walks the portal through the test client on a fresh demo database (SQLite in a temporary folder),
as the demo producer, records: open batch → planting (with one input) → harvest → drying → testing →
split into two lots. For each form it reads the pre-filled values from the page and counts the
fields whose value the producer has to type or choose (the value the record needs differs from
what the form already shows). Prints one line per form and the total.

    .venv/bin/python scripts/count_flow_fields.py
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_TMP = Path(tempfile.mkdtemp(prefix="gi_flow_"))
os.environ.setdefault("GI_TRACE_INSTANCE", str(_TMP / "instance"))


class _Form(HTMLParser):
    """Field name -> value as the page pre-fills it (the first POST form of the page)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._in_form = False
        self._done = False
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post" and not self._done \
                and "logout" not in (a.get("action") or ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[a["name"]] = a.get("value", "y")
            else:
                self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select, self._first_option = a.get("name"), None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
                self.values.setdefault(self._select, value)
            if "selected" in a:
                self.values[self._select] = value
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._in_form:
            self._in_form, self._done = False, True


def _same(shown: str, wanted: str) -> bool:
    shown, wanted = (shown or "").strip(), str(wanted).strip()
    if shown == wanted:
        return True
    try:
        return float(shown) == float(wanted)
    except ValueError:
        return False


def main() -> None:
    from sqlmodel import Session, SQLModel, select

    from gi_trace import create_app
    from gi_trace.db import get_engine
    from gi_trace.registry.models import Plot, Producer, Trademark
    from gi_trace.registry.reference import ensure_reference_data
    from gi_trace.accounts.models import User

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{_TMP / 'flow.sqlite3'}", "SECRET_KEY": "flow",
                      "SCAN_SALT": "flow", "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "PUBLIC_BASE_URL": "https://trace.example.cn"})
    engine = get_engine(app)
    SQLModel.metadata.create_all(engine)
    with app.app_context(), Session(engine) as s:
        ensure_reference_data(s)
        s.commit()
    result = app.test_cli_runner().invoke(args=["demo-data", "--producers", "40"])
    assert result.exit_code == 0, result.output
    with app.app_context(), Session(engine) as s:
        user = s.exec(select(User).where(User.username == "producer")).one()
        plot = s.exec(select(Plot).where(Plot.producer_id == user.producer_id)).first()
        mark = s.exec(select(Trademark).where(Trademark.producer_id == user.producer_id)).first()
        town = plot.town_code
        plot_id, mark_id = str(plot.id), str(mark.id) if mark else ""
        cultivar = plot.cultivar or "宁杞7号"
        assert s.get(Producer, user.producer_id) is not None
    client = app.test_client()
    reply = client.post("/login", data={"username": "producer", "password": "demo12345"})
    assert reply.status_code == 302, reply.status_code

    total = 0

    def step(name: str, url: str, wanted: dict[str, str]) -> str:
        nonlocal total
        page = client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        form = _Form()
        form.feed(page.get_data(as_text=True))
        to_fill = [k for k, v in wanted.items() if not _same(form.values.get(k, ""), v)]
        total += len(to_fill)
        print(f"{name:<10} {len(to_fill):>2} fields to fill: {', '.join(to_fill)}")
        data = {**form.values, **wanted}
        reply = client.post(url, data=data)
        assert reply.status_code == 302, (url, reply.status_code, re.findall(r'field-error[^>]*>([^<]+)',
                                                                           reply.get_data(as_text=True)))
        return reply.headers["Location"]

    location = step("open", "/batches/new", {"product": "zhongning-goji", "cultivar": cultivar,
                                             "trademark_id": mark_id})
    code = location.rstrip("/").split("/")[-1]
    base = f"/batches/{code}/record/"
    step("planting", base + "planting", {
        "occurred_at": "2025-04-10T09:00", "location_town": town, "f_plot_id": plot_id, "f_cultivar": cultivar,
        "f_inputs-0-name": "有机肥", "f_inputs-0-applied_on": "2025-04-10", "f_inputs-0-safety_interval_days": "0"})
    step("harvest", base + "harvest", {
        "occurred_at": "2025-07-01T08:00", "location_town": town, "f_plot_id": plot_id, "f_picking_round": "1",
        "f_fresh_kg": "1000"})
    step("drying", base + "drying", {
        "occurred_at": "2025-07-06T18:00", "location_town": town, "f_method": "hot_air", "f_fresh_kg_in": "1000",
        "f_dried_kg_out": "240", "f_moisture_pct": "11"})
    step("testing", base + "testing", {
        "occurred_at": "2025-07-10T10:00", "location_town": town, "f_lab": "宁夏农产品质量检测中心",
        "f_report_no": "NX-2025-0710", "f_moisture_pct": "11.5", "f_grains_per_50g": "300", "f_so2_pass": "yes",
        "f_pesticide_pass": "yes", "f_lab_verdict": "pass"})
    step("split", f"/batches/{code}/split", {
        "occurred_at": "2025-07-12T10:00", "location_town": town, "parts-0-quantity_kg": "120",
        "parts-0-producer_lot": "L-1", "parts-1-quantity_kg": "120", "parts-1-producer_lot": "L-2"})
    print(f"total: {total} fields to fill for a harvest from planting to two packing lots")


if __name__ == "__main__":
    main()
