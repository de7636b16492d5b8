"""Structured logs: one JSON line per request with its id, user id, endpoint, status and duration, and
nothing a log must not hold (passwords, tokens, cookies, complaint contents, phone numbers, names,
client addresses, trace codes in paths). The lines are read from file descriptor 2, where the handler
writes."""
from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import create_engine

from gi_trace.accounts.services import create_token
from gi_trace.scan.recorder import ScanRecorder
from gi_trace.scan.services import Scans
from gi_trace.types import utcnow
from tests.conftest import csrf_token
from tests.factories import UserFactory
from tests.factories_scan import lot_from_tested_harvest
from tests.functional.test_scan_report import _form_token, _post

PASSWORD = "password123"  # the factories' password for every user
CLIENT_IP = "198.51.100.23"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "LOG_FORMAT": "json"}


def _lines(capfd) -> list[dict]:
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    return parsed


def _requests(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("event") == "request"]


def test_request_lines_carry_id_user_route_status_duration_and_no_secrets(client, session, capfd):
    producer_user = UserFactory(username="zhang-wei", display_name="张伟", role="regulator")
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    _row, raw_token = create_token(session, producer_user, "logs")
    session.commit()
    capfd.readouterr()

    # A login with its password, a bearer-token API call, a scan, and a complaint with a phone number.
    token = csrf_token(client, "/login")
    login = client.post("/login", data={"username": "zhang-wei", "password": PASSWORD, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": CLIENT_IP})
    assert login.status_code == 302
    cookie = client.get_cookie("session").value
    api = client.get("/api/v1/me",
                     headers={"Authorization": f"Bearer {raw_token}", "X-Request-ID": "lb-7f3a.01"},
                     environ_base={"REMOTE_ADDR": CLIENT_IP})
    assert api.status_code == 200
    scan = client.get(f"/t/{lot.code}", environ_base={"REMOTE_ADDR": CLIENT_IP})
    assert scan.status_code == 200
    complaint = _post(client, lot.code, _form_token(client), text="包装上的二维码扫出来是别的产品",
                      contact="13900000000")
    assert complaint.status_code == 303

    out = capfd.readouterr().err
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    requests = _requests(lines)
    by_route = {}
    for line in requests:
        by_route.setdefault((line["route"], line["method"]), line)
        assert set(line) >= {"request_id", "user_id", "route", "method", "status", "duration_ms", "time",
                             "level"}
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0

    assert by_route[("accounts.login", "POST")]["status"] == 302
    api_line = by_route[("api.me", "GET")] if ("api.me", "GET") in by_route else next(
        line for line in requests if line["method"] == "GET" and line["route"].endswith(".me"))
    assert api_line["request_id"] == "lb-7f3a.01" == api.headers["X-Request-ID"]  # a sane id is kept
    assert api_line["user_id"] == producer_user.id and api_line["status"] == 200
    scan_line = by_route[("scan.trace_page", "GET")]
    assert scan_line["status"] == 200 and scan_line["user_id"] == producer_user.id
    assert scan_line["request_id"] == scan.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", scan_line["request_id"])
    assert by_route[("scan.report", "POST")]["status"] == 303

    for secret in (PASSWORD, raw_token, cookie, "zhang-wei", "张伟", "13900000000", "包装上的二维码",
                   CLIENT_IP, lot.code, "Bearer", "Authorization"):
        assert secret not in out, f"{secret!r} is in the logs"


@pytest.mark.parametrize("sent", ["has space", "x" * 65, "<script>", "a\"b", "ok\r\nX-Evil: 1", ""])
def test_an_odd_request_id_is_replaced_by_a_fresh_one(client, sent, capfd):
    response = client.get("/healthz", headers={"X-Request-ID": sent} if "\n" not in sent else {})
    returned = response.headers["X-Request-ID"]
    assert returned != sent and re.fullmatch(r"[0-9a-f]{32}", returned)
    assert _requests(_lines(capfd))[-1]["request_id"] == returned


def test_a_standard_library_log_line_goes_through_the_same_pipeline_with_the_request_id(app, client, capfd):
    @app.get("/boom-logged")
    def boom_logged():
        logging.getLogger("gi_trace.somewhere").warning("a thing happened to %s rows", 3,
                                                        extra={"password": "pw1"})
        return "ok"

    from gi_trace.access import PUBLIC, access

    access(PUBLIC)(boom_logged)
    response = client.get("/boom-logged")
    lines = _lines(capfd)
    line = next(line for line in lines if line.get("logger") == "gi_trace.somewhere")
    assert line["event"] == "a thing happened to 3 rows" and line["level"] == "warning"
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert "pw1" not in json.dumps(lines)


def test_a_failed_scan_flush_is_logged_as_json_and_counted(app, capfd, tmp_path):
    from gi_trace.observability import metrics

    before = metrics.SCAN_RECORDER_FLUSH_FAILURES._value.get()
    engine = create_engine(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")  # no scan tables: the write fails
    recorder = ScanRecorder(engine, 3600, {})
    recorder._buffer.append(Scans("ABCDEFGHJKMNPQ", "batch", 1, 1, "net", 1, utcnow(), utcnow()))
    assert recorder.flush() == 0
    engine.dispose()
    line = next(line for line in _lines(capfd) if line.get("logger") == "gi_trace.scan.recorder")
    assert line["level"] == "error" and "exception" in line and "dropped" in line["event"]
    assert metrics.SCAN_RECORDER_FLUSH_FAILURES._value.get() == before + 1


def test_cli_commands_log_start_and_end_under_one_command_id(app, runner, capfd):
    with app.app_context():  # `flask` pushes it for a plain click group; the test runner does not
        result = runner.invoke(args=["pages", "rebuild", "--stale"])
    assert result.exit_code == 0, result.output
    assert "command" not in result.output  # the log goes to the process's stderr, not into the output
    lines = [line for line in _lines(capfd) if line.get("logger") == "gi_trace.command"]
    started, finished = lines[0], lines[-1]
    assert started["event"] == "command started" and finished["event"] == "command finished"
    assert started["command"] == finished["command"] == "pages rebuild"
    assert started["command_id"] == finished["command_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", started["command_id"])
    assert finished["outcome"] == "ok" and finished["duration_ms"] >= 0


def test_the_user_id_is_logged_without_touching_the_database(app, client, session, capfd):
    """A request whose transaction failed, or whose session is gone, still gets its line (a lazy load of
    the user's id there would turn the answer into a 500)."""
    from gi_trace.access import access
    from gi_trace.db import get_session

    user = UserFactory(username="li-na", role="regulator")
    session.commit()

    @app.get("/expire-actor")
    @access("regulator")
    def expire_actor():
        request_session = get_session()
        from flask import g

        request_session.add(g.actor)
        request_session.expire(g.actor)
        request_session.close()  # the actor is now expired and detached: reading .id would raise
        return "ok"

    token = csrf_token(client, "/login")
    assert client.post("/login", data={"username": "li-na", "password": PASSWORD, "csrf_token": token}
                       ).status_code == 302
    capfd.readouterr()
    assert client.get("/expire-actor").status_code == 200
    line = _requests(_lines(capfd))[-1]
    assert line["route"] == "expire_actor" and line["status"] == 200 and line["user_id"] == user.id
