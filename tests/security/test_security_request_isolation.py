"""Each request gets its own database session, even inside a test's (or a command's) app context.

Tests push an app context for the whole test (the `session` fixture); Flask then runs the test
client's requests inside it, sharing its `g`. Without a per-request teardown the first request's
session would serve every later one: a view that forgot to commit would look correct, and one
database error would break every following request.
"""
from __future__ import annotations

from flask import g

from tests.security import world as seed


def test_a_request_does_not_leave_its_session_to_the_next(app, session):
    world = seed.build(session)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert g.get("db_session") is None
