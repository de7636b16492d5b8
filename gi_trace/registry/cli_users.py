"""`flask --app gi_trace users create`: a user account, bound to a producer of the register for a producer
account. It joins the accounts area's `users` group (the register sits above accounts)."""
from __future__ import annotations

import click
from flask import Flask

from gi_trace.accounts import services
from gi_trace.accounts.cli import users_cli
from gi_trace.accounts.models import ROLES
from gi_trace.db import session_scope
from gi_trace.errors import DomainError
from gi_trace.registry.services import producer_by_code


@click.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True, help="The account's role.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (prompted when omitted).")
@click.option("--county", "county_code", default=None, help="Limit a regulator to one county (6-digit code).")
@click.option("--producer", "producer_code", default=None,
              help="Bind a producer account to this producer (USCC or registry number).")
@click.option("--name", "display_name", default="", help="Display name.")
def create_user_cmd(username, role, password, county_code, producer_code, display_name):
    """Create a user, e.g. the first admin: `flask --app gi_trace users create admin`."""
    try:
        with session_scope() as session:
            producer_id = producer_by_code(session, producer_code).id if producer_code else None
            user = services.create_user(session, username, password, role, display_name=display_name,
                                        county_code=county_code, producer_id=producer_id)
            click.echo(f"created {user.role} {user.username}")
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def register(app: Flask) -> None:
    users_cli.add_command(create_user_cmd)
