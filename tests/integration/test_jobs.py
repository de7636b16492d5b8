"""Background jobs (gi_trace.jobs): the outbox written with the write, drained by the function the worker
runs, long jobs with progress and a result to download, the queue woken after the commit."""
from __future__ import annotations

from sqlmodel import select

from gi_trace import jobs
from gi_trace.errors import Refused
from gi_trace.jobs.models import Job, OutboxEntry
from gi_trace.jobs.queue import queue
from tests import factories
from tests.conftest import login


def _label_sheet(context: jobs.JobContext) -> jobs.Result:
    pages = int(context.params["pages"])
    for page in range(1, pages + 1):
        context.progress(page, pages)
    return jobs.Result(b"%PDF-1.4 " + b"x" * pages, f"labels-{pages}.pdf", "application/pdf")


def _refuses(context: jobs.JobContext) -> jobs.Result:
    context.progress(1, 3)
    raise Refused("The batch was withdrawn meanwhile.")


def test_a_long_job_reports_progress_and_its_result_downloads(app, session, client):
    jobs.register_job(app, "test_sheet", _label_sheet)
    user = factories.UserFactory(username="zhao", role="regulator")
    session.commit()
    job = jobs.start(session, "test_sheet", user.id, {"pages": 3})
    assert session.exec(select(OutboxEntry.kind)).all() == ["job"]
    session.commit()
    login(client, "zhao")
    assert client.get(f"/jobs/{job.id}", headers={"Accept": "application/json"}).get_json()["status"] == "queued"
    assert jobs.drain() == 1
    state = client.get(f"/jobs/{job.id}", headers={"Accept": "application/json"}).get_json()
    assert state["status"] == "done" and (state["done"], state["total"]) == (3, 3)
    download = client.get(state["result_url"])
    assert download.status_code == 200 and download.data == b"%PDF-1.4 xxx"
    assert download.headers["Content-Disposition"] == 'attachment; filename="labels-3.pdf"'
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/jobs/{job.id}/result" in page and 'http-equiv="refresh"' not in page


def test_a_failed_job_says_why_and_another_user_cannot_see_it(app, session, client):
    jobs.register_job(app, "test_refuses", _refuses)
    owner = factories.UserFactory(username="qian", role="regulator")
    factories.UserFactory(username="sun", role="regulator")
    session.commit()
    job = jobs.start(session, "test_refuses", owner.id)
    session.commit()
    jobs.drain()
    session.expire_all()
    stored = session.get(Job, job.id)
    assert stored.status == "failed" and stored.error == "The batch was withdrawn meanwhile." and stored.done == 1
    assert jobs.counts(session).jobs_failed == 1
    assert session.exec(select(OutboxEntry)).all() == []  # a failed job is an answer, not a retry
    login(client, "sun")
    assert client.get(f"/jobs/{job.id}").status_code == 404
    assert client.get(f"/jobs/{job.id}/result").status_code == 404


def test_a_running_job_page_reloads_itself(app, session, client):
    jobs.register_job(app, "test_sheet", _label_sheet)
    user = factories.UserFactory(username="li4", role="producer", producer_id=factories.authorised_producer().id)
    session.commit()
    job = jobs.start(session, "test_sheet", user.id, {"pages": 2}, total=2)
    session.commit()
    login(client, "li4")
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "Download" not in page and "下载" not in page


def test_the_commit_that_writes_outbox_rows_wakes_the_queue(app, session):
    huey = queue(app).huey
    huey.flush()
    user = factories.UserFactory(username="zhou")
    session.commit()
    assert huey.pending_count() == 0  # a commit without outbox rows enqueues nothing
    jobs.start(session, "test_sheet", user.id)
    session.commit()
    assert huey.pending_count() == 1
    huey.flush()


def test_a_rolled_back_transaction_leaves_no_outbox_row(app, session):
    user = factories.UserFactory(username="wu")
    session.commit()
    jobs.start(session, "test_sheet", user.id)
    session.rollback()
    assert session.exec(select(OutboxEntry)).all() == [] and session.exec(select(Job)).all() == []


def test_a_job_queued_while_another_runs_is_taken_into_the_same_drain_and_run(app, session):
    from gi_trace.db import session_scope

    def first(context: jobs.JobContext) -> jobs.Result:
        with session_scope(context.app) as s:  # someone asks for another job meanwhile
            jobs.start(s, "test_sheet", context.requested_by, {"pages": 1})
        context.progress(1, 1)  # the heartbeat claims the new row for this drain
        return jobs.Result(b"first", "first.txt")

    jobs.register_job(app, "test_first", first)
    jobs.register_job(app, "test_sheet", _label_sheet)
    user = factories.UserFactory(username="zheng")
    session.commit()
    jobs.start(session, "test_first", user.id)
    session.commit()
    assert jobs.drain() == 2
    session.expire_all()
    assert [(j.kind, j.status) for j in session.exec(select(Job).order_by(Job.id))] == [
        ("test_first", "done"), ("test_sheet", "done")]
    assert session.exec(select(OutboxEntry)).all() == []


def test_rows_claimed_one_at_a_time_run_alone_and_wake_another_worker_while_some_wait(app, session):
    calls, wakes = [], []

    def part(_app, payloads, heartbeat) -> None:
        calls.append(([p["n"] for p in payloads], heartbeat()))  # a heartbeat claims no more rows

    jobs.handle(app, "test_part", part, claim=1)
    jobs.on_more_work(app, lambda: wakes.append(1))
    for n in range(3):
        jobs.add(session, "test_part", {"n": n})
    session.commit()
    assert jobs.drain() == 3
    assert calls == [([0], []), ([1], []), ([2], [])]
    assert len(wakes) == 2  # after the first two claims, rows were left for another worker
