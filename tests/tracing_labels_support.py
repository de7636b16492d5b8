"""Helpers for the labels and portal tests: batches brought to a stage through the real services."""
from __future__ import annotations

from gi_trace.tracing import services
from tests import factories

PLANTED = "2026-04-01T08:00:00+08:00"
PICKED = "2026-07-01T08:00:00+08:00"
DRIED = "2026-07-05T08:00:00+08:00"
TESTED = "2026-07-06T10:00:00+08:00"


def record(session, user, batch, stage, when, data, **kwargs):
    """Record one stage event through the tracing service."""
    return services.record_event(session, user, batch, services.EventInput(stage=stage, occurred_at=when, data=data,
                                                                           **kwargs))


def lab_report(moisture=11.0, passed=True, report="QS-2026-001"):
    """A testing event's data (the 合格证); `passed=False` measures SO₂ far above the limit."""
    return {"lab": "宁夏食品检测中心", "report_no": report, "sampled_at": "2026-07-06", "sampled_by": "王检",
            "method": "GB/T 18672-2014",
            "moisture_pct": moisture, "grains_per_50g": 300, "so2_mg_per_kg": 8.0 if passed else 600.0,
            "residues": []}


def dried_batch(session, producer=None, user=None, *, fresh=1000.0, dried=250.0, lot=None, product_line_id=None,
                trademark_id=None):
    """An authorised producer's batch planted, harvested and dried (not yet tested)."""
    producer = producer or factories.authorised_producer()
    user = user or factories.producer_user(producer)
    plot = factories.PlotFactory(producer_id=producer.id, name="沙滩地")
    batch = services.open_batch(session, user, factories.goji(session), services.BatchInput(
        cultivar="宁杞7号", producer_lot=lot, product_line_id=product_line_id, trademark_id=trademark_id))
    record(session, user, batch, "planting", PLANTED, {"plot_id": plot.id})
    record(session, user, batch, "harvest", PICKED, {"plot_id": plot.id, "fresh_kg": fresh, "picking_round": 1})
    record(session, user, batch, "drying", DRIED, {"method": "hot_air", "fresh_kg_in": fresh, "dried_kg_out": dried,
                                                   "moisture_pct": 11.0})
    return producer, user, batch


def passed_batch(session, producer=None, user=None, **kwargs):
    """A dried batch whose test passed: it may carry the GI label."""
    producer, user, batch = dried_batch(session, producer, user, **kwargs)
    record(session, user, batch, "testing", TESTED, lab_report())
    return producer, user, batch


def failed_batch(session, producer=None, user=None, **kwargs):
    """A dried batch whose test failed (moisture above the maximum)."""
    producer, user, batch = dried_batch(session, producer, user, **kwargs)
    record(session, user, batch, "testing", TESTED, lab_report(moisture=15.5))
    return producer, user, batch


def pdf_page_image(pdf: bytes, folder, page: int = 1, dpi: int = 300):
    """One page of a PDF rendered by poppler's pdftoppm (as a label printer would rasterise it), 1-bit."""
    import subprocess

    from PIL import Image

    source = folder / f"page-source-{page}.pdf"
    source.write_bytes(pdf)
    stem = folder / f"page-{page}"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-mono", "-singlefile",
                    str(source), str(stem)], check=True, timeout=120)
    with Image.open(f"{stem}.pbm") as image:
        return image.convert("1").copy()


def pdf_text(pdf: bytes, folder) -> str:
    """The text of a PDF as poppler's pdftotext reads it (what a search or a copy-paste finds)."""
    import subprocess

    source = folder / "text-source.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, timeout=120
                          ).stdout.decode("utf-8")
