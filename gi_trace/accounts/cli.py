"""`flask --app gi_trace users ...` and `tokens ...` (`users create` is the register's: it binds producers)."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from gi_trace.accounts import services
from gi_trace.db import session_scope
from gi_trace.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")


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
