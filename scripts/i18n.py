#!/usr/bin/env python3
"""List messages without a Chinese translation; with --append AREA, add empty entries to that area's catalog.

    .venv/bin/python scripts/i18n.py            # list what is missing, with where it is used
    .venv/bin/python scripts/i18n.py --append tracing   # add stubs to gi_trace/tracing/translations/zh/.../messages.po
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gi_trace.i18n_tools import catalog_path, missing, po_entry, po_header  # noqa: E402

PACKAGE = Path(__file__).resolve().parent.parent / "gi_trace"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--append", metavar="AREA", help="area package ('' or 'core' for gi_trace/translations)")
    parser.add_argument("--only", metavar="TEXT", help="only messages used in paths containing TEXT")
    args = parser.parse_args()
    todo = missing()
    if args.only:
        todo = {k: v for k, v in todo.items() if any(args.only in p for p in v)}
    for msgid, places in sorted(todo.items(), key=lambda kv: kv[1][0]):
        print(f"{places[0]}\t{msgid}")
    if args.append is not None and todo:
        area_dir = PACKAGE if args.append in ("", "core") else PACKAGE / args.append
        path = catalog_path(area_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            if path.stat().st_size == 0:
                fh.write(po_header())
            for msgid in sorted(todo):
                fh.write("\n" + po_entry(msgid))
        print(f"appended {len(todo)} stubs to {path}", file=sys.stderr)
    print(f"{len(todo)} missing", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
