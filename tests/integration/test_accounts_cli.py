"""`flask --app gi_trace users create`: the first admin, and a producer account bound to a producer."""
from __future__ import annotations

from sqlmodel import select

from gi_trace.accounts.models import User
from tests.factories import ProducerFactory


def test_users_create_makes_an_admin_and_a_producer_account_bound_by_its_code(runner, session):
    producer = ProducerFactory()
    session.commit()
    admin = runner.invoke(args=["users", "create", "boss", "--password", "a-long-password"])
    assert admin.exit_code == 0, admin.output
    assert "created admin boss" in admin.output
    bound = runner.invoke(args=["users", "create", "grower", "--role", "producer", "--password", "a-long-password",
                                "--producer", producer.uscc])
    assert bound.exit_code == 0, bound.output
    session.rollback()
    user = session.exec(select(User).where(User.username == "grower")).one()
    assert (user.role, user.producer_id) == ("producer", producer.id)


def test_users_create_refuses_an_unknown_producer_code(runner, session):
    result = runner.invoke(args=["users", "create", "grower", "--role", "producer", "--password", "a-long-password",
                                 "--producer", "NO-SUCH-CODE"])
    assert result.exit_code != 0
    session.rollback()
    assert session.exec(select(User).where(User.username == "grower")).first() is None
