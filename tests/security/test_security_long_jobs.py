"""Issue 14 item 8: a sheet of more than 500 labels is drawn by a background job (progress page, then the
download), bounded at 10,000 and two at a time per producer; label sheets and exports are limited per user."""
from __future__ import annotations

import pytest

from gi_trace.tracing import units
from tests import factories
from tests.conftest import login
from tests.tracing_labels_support import passed_batch


@pytest.fixture
def batch_with_units(session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer, "farmer")
    _p, user, batch = passed_batch(session, producer, user)
    units.issue_units(session, user, batch, 2, 0.5)
    session.commit()
    return batch


def test_the_print_view_beyond_500_labels_points_to_the_pdf_and_zip(client, session, batch_with_units):
    login(client, "farmer")
    response = client.get(f"/batches/{batch_with_units.code}/labels?kind=batch&count=501")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "500" in page and "PDF" in page and "10,000" in page


@pytest.mark.parametrize("ext", [".zip", ".pdf"])
def test_a_sheet_beyond_10000_labels_is_refused_with_a_message(client, session, batch_with_units, ext):
    login(client, "farmer")
    response = client.get(f"/batches/{batch_with_units.code}/labels{ext}?kind=batch&count=10001")
    assert response.status_code == 422 and "10,000" in response.get_data(as_text=True)


def test_a_big_sheet_is_a_background_job_with_progress_and_a_download(client, session, batch_with_units):
    import io
    import re
    import subprocess
    import zipfile

    from sqlmodel import select

    from gi_trace import jobs
    from gi_trace.jobs.models import Job
    from gi_trace.tracing.models import Batch

    login(client, "farmer")
    before = batch_with_units.label_copies or 0
    queued = client.get(f"/batches/{batch_with_units.code}/labels.zip?kind=batch&count=620")
    assert queued.status_code == 302 and "/jobs/" in queued.headers["Location"]
    progress = queued.headers["Location"]
    waiting = client.get(progress).get_data(as_text=True)
    assert "标签生成" in waiting and progress + "/result" not in waiting
    session.expire_all()
    assert (session.get(Batch, batch_with_units.id).label_copies or 0) == before  # counted once drawn
    pdf = client.get(f"/batches/{batch_with_units.code}/labels.pdf?kind=batch&count=540")
    assert pdf.status_code == 302
    # a third sheet while two wait: refused with a message, nothing queued
    third = client.get(f"/batches/{batch_with_units.code}/labels.pdf?kind=batch&count=700")
    assert third.status_code == 409 and "正在生成" in third.get_data(as_text=True)
    assert len(session.exec(select(Job)).all()) == 2
    jobs.drain()
    status = client.get(progress, headers={"Accept": "application/json"}).get_json()
    assert status["status"] == "done" and status["done"] == status["total"] == 620
    archive = zipfile.ZipFile(io.BytesIO(client.get(progress + "/result").data))
    assert len(archive.namelist()) == 620 and all(n.endswith(".png") for n in archive.namelist())
    pdf_bytes = client.get(pdf.headers["Location"] + "/result").data
    info = subprocess.run(["pdfinfo", "-"], input=pdf_bytes, capture_output=True, check=True).stdout.decode()
    assert re.search(r"^Pages:\s+16$", info, flags=re.M)  # 540 labels, 35 a page
    session.expire_all()
    assert session.get(Batch, batch_with_units.id).label_copies == before + 620 + 540


def test_a_sheet_of_500_labels_is_printed(client, session, batch_with_units):
    login(client, "farmer")
    response = client.get(f"/batches/{batch_with_units.code}/labels?kind=batch&count=500")
    assert response.status_code == 200 and response.get_data(as_text=True).count("<svg") >= 500


class TestPerUserLimits:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LABELS_RATE_LIMIT": "2 per minute",
                "EXPORT_RATE_LIMIT": "1 per minute"}

    def test_label_sheets_are_limited_per_user(self, app, client, session, batch_with_units):
        other_producer = factories.authorised_producer()
        factories.producer_user(other_producer, "neighbour")
        session.commit()
        login(client, "farmer")
        url = f"/batches/{batch_with_units.code}/labels.zip?kind=units&start=1&count=2"
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
        neighbour = app.test_client()
        from flask import g

        g.pop("csrf_token", None)
        g.pop("_login_user", None)
        login(neighbour, "neighbour")
        # another user has a budget of their own (their request is answered, here 404: not their batch)
        assert neighbour.get(url).status_code == 404

    def test_exports_are_limited_per_user(self, client, session):
        factories.UserFactory(username="city", role="regulator")
        session.commit()
        login(client, "city")
        url = "/oversight/reports/annual.zip?product=zhongning-goji&year=2025"
        assert [client.get(url).status_code for _ in range(2)] == [200, 429]
