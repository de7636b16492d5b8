"""One commit point per request: a request that succeeded commits once, a failed one leaves nothing.

The routes below are added to the real app for the test; they call a real service that flushes a
row (an API token) and then fail in each way a view can: a domain error, a status >= 400, a declared
failure with a 200 page, an unexpected exception.
"""
from __future__ import annotations

import pytest
from flask import abort
from sqlmodel import Session, func, select

from gi_trace.access import PUBLIC, access
from gi_trace.accounts import services
from gi_trace.accounts.models import ApiToken, User
from gi_trace.db import fail, get_engine, get_session
from gi_trace.errors import Refused


def _token_after_flush(name: str) -> None:
    session = get_session()
    user = session.exec(select(User)).one()
    services.create_token(session, user, name)  # adds and flushes the row
    assert session.exec(select(func.count()).select_from(ApiToken)).one() == 1  # in the transaction


def _add_routes(app) -> None:
    @access(PUBLIC)
    def ok():
        _token_after_flush("ok")
        return "saved", 200

    @access(PUBLIC)
    def refused():
        _token_after_flush("refused")
        raise Refused("not allowed", field="name")

    @access(PUBLIC)
    def status_422():
        _token_after_flush("status")
        return "shown again", 422

    @access(PUBLIC)
    def declared():
        _token_after_flush("declared")
        fail()
        return "the form again, with its error", 200

    @access(PUBLIC)
    def aborted():
        _token_after_flush("aborted")
        abort(409)

    @access(PUBLIC)
    def crashed():
        _token_after_flush("crashed")
        raise RuntimeError("a bug")

    for view in (ok, refused, status_422, declared, aborted, crashed):
        app.add_url_rule(f"/_uow/{view.__name__}", view.__name__, view, methods=["POST"])


@pytest.fixture
def uow_app(app):
    _add_routes(app)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def _tokens(app) -> list[str]:
    with Session(get_engine(app)) as session:
        return list(session.exec(select(ApiToken.name)).all())


@pytest.fixture
def user(app, session):
    from tests import factories

    factories.UserFactory(username="wang")
    session.commit()


def test_a_request_that_succeeded_commits_what_it_wrote(uow_app, user):
    response = uow_app.test_client().post("/_uow/ok")
    assert response.status_code == 200
    assert _tokens(uow_app) == ["ok"]


@pytest.mark.parametrize("view, status", [("refused", 422), ("status_422", 422), ("declared", 200),
                                          ("aborted", 409)])
def test_a_failed_request_leaves_nothing_it_flushed(uow_app, user, view, status):
    response = uow_app.test_client().post(f"/_uow/{view}")
    assert response.status_code == status
    assert _tokens(uow_app) == []


def test_a_request_that_raised_leaves_nothing_it_flushed(uow_app, user):
    client = uow_app.test_client()
    with pytest.raises(RuntimeError):  # tests propagate exceptions; in production it is a 500 page
        client.post("/_uow/crashed")
    assert _tokens(uow_app) == []
