"""`flask --app gi_trace jobs ...`: the background worker, a one-off drain, the queue's state."""
from __future__ import annotations

import click
from flask import Flask, current_app

from gi_trace import jobs
from gi_trace.db import get_engine


@click.group("jobs")
def jobs_cli() -> None:
    """Background jobs: stored-page refreshes, long jobs (label sheets, reports), via huey."""


@jobs_cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="Threads running jobs at once.")
def worker_cmd(workers: int) -> None:
    """Run a worker until stopped (SIGTERM or Ctrl-C): it drains the outbox whenever woken, every few
    seconds while work waits, and at start. Run one per machine (scripts/run.sh starts one); with
    JOBS_URL=redis://... workers can run on other machines against the same database."""
    from gi_trace.jobs.queue import run_worker

    click.echo(f"jobs worker: {workers} threads, queue {current_app.config['JOBS_URL'].split('@')[-1]}", err=True)
    run_worker(current_app._get_current_object(), workers=workers)


@jobs_cli.command("drain")
def drain_cmd() -> None:
    """Do all waiting background work now, in this process, and exit (no worker needed)."""
    done = jobs.drain(current_app._get_current_object())
    click.echo(f"{done:,} outbox rows done")


@jobs_cli.command("status")
def status_cmd() -> None:
    """How much background work waits, how much failed (and is retried), how many long jobs failed."""
    with get_engine().connect() as conn:
        c = jobs.counts(conn)
    click.echo(f"outbox rows waiting: {c.pending:,} (last attempt failed: {c.failing:,}); "
               f"failed long jobs: {c.jobs_failed:,}")


def register(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
