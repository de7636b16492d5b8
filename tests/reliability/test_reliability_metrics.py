"""/metrics under a real gunicorn with 2 workers in Prometheus multiprocess mode: a scrape, answered by
either worker, counts the requests that both workers served."""
from __future__ import annotations

import re
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from tests.functional.test_observability_metrics import sample
from tests.reliability.processes import Gunicorn, process_env

CLIENTS, EACH, ROUNDS = 6, 20, 10
HEALTHZ = dict(route="web.healthz", method="GET", status=200)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
        return response.status


def _scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def _one_process(directory, pid: str, tmp_path) -> str:
    """What one worker's own counter file says (read with the same collector, alone in a folder)."""
    alone = tmp_path / f"worker-{pid}"
    alone.mkdir(exist_ok=True)
    shutil.copy(directory / f"counter_{pid}.db", alone)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(alone))
    return generate_latest(registry).decode()


def _served(directory, tmp_path) -> dict:
    """Requests to /healthz counted in each worker's own file, by process id."""
    pids = sorted(re.fullmatch(r"counter_(\d+)\.db", p.name).group(1) for p in directory.glob("counter_*.db"))
    return {pid: sample(_one_process(directory, pid, tmp_path), "gi_trace_http_requests_total", **HEALTHZ)
            for pid in pids}


def test_a_scrape_adds_up_the_requests_of_both_workers(app, database_url, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = process_env(database_url, tmp_path / "instance", PROMETHEUS_MULTIPROC_DIR=str(directory))
    server = Gunicorn(env, workers=2)
    try:
        before = sample(_scrape(server.url), "gi_trace_http_requests_total", **HEALTHZ)  # the start-up probes
        # Concurrent clients keep both sync workers busy, so each serves a share; on a loaded machine one
        # worker can take a whole round, so rounds go on (at most ROUNDS) until both have served some.
        sent = 0
        for _round in range(ROUNDS):
            with ThreadPoolExecutor(CLIENTS) as pool:
                statuses = list(pool.map(_get, [f"{server.url}/healthz"] * (CLIENTS * EACH)))
            assert statuses == [200] * (CLIENTS * EACH)
            sent += CLIENTS * EACH
            if len([n for n in _served(directory, tmp_path).values() if n > 0]) == 2:
                break
        after = _scrape(server.url)
        assert sample(after, "gi_trace_http_requests_total", **HEALTHZ) == before + sent
        assert sample(after, "gi_trace_http_request_duration_seconds_count", route="web.healthz") == before + sent
    finally:
        server.stop()
    served = _served(directory, tmp_path)
    assert len([n for n in served.values() if n > 0]) == 2, served  # both workers served some
    assert sum(served.values()) == before + sent
