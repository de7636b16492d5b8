#!/usr/bin/env python3
"""Benchmark: a 1,000-unit label sheet (PNG ZIP, A4 print view, vector PDF) against plain `qrcode.make(url)`.

    .venv/bin/python scripts/bench_qr.py [--labels 1000] [--repeat 3] [--base https://trace.zhongwei.gov.cn]

The labels are a GTIN line's packages: each QR holds the GS1 Digital Link URI
`<base>/01/<gtin14>/10/<lot>/21/<unit code>` and prints `(01)… (10)… (21)…` under it. The floor, measured
in the same run on the same URIs: `qrcode.make(url)` saved as PNG, one per URI, one process (the way a
plain implementation draws labels). Figures are medians of --repeat runs, in labels per second:
- ZIP: `labels.zip_sheet` — our encoder (same modules as qrcode) + captioned 1-bit PNGs, in one process;
- print view: `labels.render_sheet` — the whole A4 HTML page with 1,000 inline SVG QR codes;
- PDF: `labels.pdf_sheet` — A4 pages drawn in vectors with the CJK font embedded (a subset).
The target is ≥ 3× the plain rate for every output. No database is touched.
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
from gi_trace.tracing import codes, gs1, labels, qr  # noqa: E402


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
    parser.add_argument("--gtin", default="09506000134352")
    parser.add_argument("--lot", default="ZN-2026-07")
    args = parser.parse_args()

    code_list = [codes.new_code() for _ in range(args.labels)]
    sheet = labels.Sheet(batch_code=code_list[0], gi_mark="中宁枸杞 地理标志", trademark="红宝",
                         producer_name="中宁县测试枸杞合作社", producer_code="93640521MA7XK2L85Y",
                         labels=labels.labels_for_codes(args.base, code_list, list(range(1, args.labels + 1)),
                                                        gs1.LabelIdentity(args.gtin, args.lot)),
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
        pdf = timed(lambda: labels.pdf_sheet(sheet), args.repeat) if labels.pdf_fonts() else None
        pdf_bytes = labels.pdf_sheet(sheet) if pdf is not None else b""
    assert html.count("<svg") >= n
    zip_bytes = labels.zip_sheet(sheet)

    def line(name: str, seconds: float) -> str:
        return f"  {name:<44} {seconds * 1000:8.1f} ms  {n / seconds:8.0f} labels/s  {plain / seconds:5.1f}× plain"

    print(line("floor: qrcode.make(url) PNGs + ZIP", plain))
    print(line("ZIP of PNGs, one process", zip_one))
    print(line("print view (A4 HTML, inline SVG), one process", view_one))
    if pdf is None:
        print("  PDF: no Noto Sans CJK font installed (fonts-noto-cjk) — NOT measured")
    else:
        print(line("PDF (A4, vectors, CJK font subset embedded)", pdf))
    print(f"  sizes: ZIP {len(zip_bytes) / 1024:.0f} KiB, PDF {len(pdf_bytes) / 1024:.0f} KiB "
          f"({len(pdf_bytes) / n:.0f} bytes a label)")
    outputs = {"ZIP": zip_one, "print view": view_one, "PDF": pdf}
    ok = all(seconds is not None and plain / seconds >= 3 for seconds in outputs.values())
    print("target ≥ 3× plain: " + ", ".join(f"{name} {plain / s:.1f}×" for name, s in outputs.items() if s)
          + f" — {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
