"""gunicorn reads this file from the working directory (the project root) at every start.

Only the Prometheus bookkeeping lives here; every other setting comes from the command line. With
PROMETHEUS_MULTIPROC_DIR set (scripts/run.sh sets it and empties the directory before starting),
each worker writes its metrics to files there and /metrics adds them up; when a worker exits, its
live gauges are removed so that a scrape does not count a dead process (prometheus_client's
multiprocess mode). Without the variable, nothing happens here.
"""
import os as _os


def child_exit(server, worker):
    if _os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
