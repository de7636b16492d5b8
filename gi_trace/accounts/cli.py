"""`flask --app gi_trace users ...` and `tokens ...`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from gi_trace.accounts import services
from gi_trace.accounts.models import ROLES
from gi_trace.db import session_scope
from gi_trace.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")


@users_cli.command("create")
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
    from gi_trace.registry.services import producer_by_code

    try:
        with session_scope() as session:
            producer_id = producer_by_code(session, producer_code).id if producer_code else None
            user = services.create_user(session, username, password, role, display_name=display_name,
                                        county_code=county_code, producer_id=producer_id)
            click.echo(f"created {user.role} {user.username}")
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def create_token_cmd(username, name):
    """Create an API token for USERNAME and print it (shown only once)."""
    try:
        with session_scope() as session:
            user = services.get_user_by_username(session, username)
            _token, raw = services.create_token(session, user, name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(raw)


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
