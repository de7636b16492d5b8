#!/usr/bin/env python3
"""Benchmark: a 1,000-unit label sheet (PNG ZIP and A4 print view) against plain `qrcode.make(url)`.

    .venv/bin/python scripts/bench_qr.py [--labels 1000] [--repeat 3] [--base https://trace.zhongwei.gov.cn]

The floor, measured in the same run on the same URLs: `qrcode.make(url)` saved as PNG, one per
URL, one process (the way a plain implementation draws labels). Figures are medians of --repeat
runs, in labels per second:
- ZIP: `labels.zip_sheet` — our encoder (same modules as qrcode) + 1-bit PNGs, in one process;
- print view: `labels.render_sheet` — the whole A4 HTML page with 1,000 inline SVG QR codes;
- PDF (for information, not part of the target): `labels.pdf_sheet`, A4 pages drawn at 300 dpi.
The target is ≥ 3× the plain rate. No database is touched.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GI_TRACE_INSTANCE", tempfile.mkdtemp(prefix="gi_bench_qr_"))

import qrcode  # noqa: E402

from gi_trace import create_app  # noqa: E402
from gi_trace.tracing import codes, labels, qr  # noqa: E402


def plain_zip(urls: list[str]) -> bytes:
    """The floor: qrcode.make(url) PNGs, zipped the same way."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for i, url in enumerate(urls, 1):
            buffer = io.BytesIO()
            qrcode.make(url).save(buffer)
            archive.writestr(f"{i:05d}.png", buffer.getvalue())
    return out.getvalue()


def timed(func, repeat: int) -> float:
    """Median seconds of `repeat` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base", default="https://trace.zhongwei.gov.cn")
    args = parser.parse_args()

    code_list = [codes.new_code() for _ in range(args.labels)]
    sheet = labels.Sheet(batch_code=code_list[0], gi_mark="中宁枸杞 地理标志", trademark="红宝",
                         producer_name="中宁县测试枸杞合作社", producer_code="93640521MA7XK2L85Y",
                         labels=labels.labels_for_codes(args.base, code_list, list(range(1, args.labels + 1))),
                         units_total=args.labels)
    urls = [label.url for label in sheet.labels]
    n = args.labels
    symbol = qr.encode(urls[0])
    print(f"{n} labels, URL {len(urls[0])} bytes ({urls[0]}), QR version {symbol.version}, "
          f"{symbol.size}+8 modules × {qr.box_size_for(symbol.size)} px = "
          f"{(symbol.size + 8) * qr.box_size_for(symbol.size) / qr.LABEL_DPI * 25.4:.1f} mm at {qr.LABEL_DPI} dpi; "
          f"cores: {len(os.sched_getaffinity(0))}; median of {args.repeat}")

    app = create_app({"DATABASE_URL": f"sqlite:///{os.environ['GI_TRACE_INSTANCE']}/bench.sqlite3",
                      "SECRET_KEY": "bench", "TESTING": True})

    plain = timed(lambda: plain_zip(urls), args.repeat)
    zip_one = timed(lambda: labels.zip_sheet(sheet), args.repeat)
    with app.test_request_context("/?lang=zh"):
        view_one = timed(lambda: labels.render_sheet(sheet), args.repeat)
        html = labels.render_sheet(sheet)
        pdf = timed(lambda: labels.pdf_sheet(sheet), 1) if labels.pdf_fonts() else None
    assert html.count("<svg") >= n

    def line(name: str, seconds: float) -> str:
        return f"  {name:<44} {seconds * 1000:8.1f} ms  {n / seconds:8.0f} labels/s  {plain / seconds:5.1f}× plain"

    print(line("floor: qrcode.make(url) PNGs + ZIP", plain))
    print(line("ZIP of PNGs, one process", zip_one))
    print(line("print view (A4 HTML, inline SVG), one process", view_one))
    if pdf is not None:
        print(line("PDF (A4 pages drawn at 300 dpi, one run)", pdf))
    best = zip_one, view_one
    ok = all(plain / b >= 3 for b in best)
    print(f"target ≥ 3× plain: ZIP {plain / best[0]:.1f}×, print view {plain / best[1]:.1f}× — "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
