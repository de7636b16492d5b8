"""One commit point: only the boundary modules commit or roll back (a grep over the package)."""
from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gi_trace"

# The unit of work (requests, CLI commands and jobs all commit through db.commit), and the scan page's
# read connections, whose pool pre-ping may leave a DBAPI transaction open that they end before use.
BOUNDARY = {"db.py", "scan/readconn.py"}

CALL = re.compile(r"(?<![\w])(commit|rollback)\(")


def _offenders(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative in BOUNDARY or relative.startswith("migrations/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if CALL.search(code):
                found.append(f"gi_trace/{relative}:{number}: {line.strip()}")
    return found


def test_only_the_unit_of_work_commits_or_rolls_back():
    offenders = _offenders()
    assert not offenders, "commit/rollback outside the unit of work:\n" + "\n".join(offenders)


def test_the_grep_finds_a_commit_in_a_view_but_not_in_the_unit_of_work(tmp_path):
    fake = tmp_path / "gi_trace"
    (fake / "tracing").mkdir(parents=True)
    (fake / "tracing" / "views.py").write_text(
        "def save(session):\n    db.rollback(session)  # no\n    session.commit()\n\ndef on_commit(s):\n    pass\n",
        encoding="utf-8")
    (fake / "db.py").write_text("def commit(session):\n    session.commit()\n", encoding="utf-8")
    assert _offenders(fake) == ["gi_trace/tracing/views.py:2: db.rollback(session)  # no",
                                "gi_trace/tracing/views.py:3: session.commit()"]
