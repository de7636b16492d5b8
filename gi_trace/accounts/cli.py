"""`flask --app gi_trace users ...` and `tokens ...` (`users create` is the register's: it binds producers)."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from gi_trace.accounts import services
from gi_trace.db import session_scope
from gi_trace.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option("--days", type=int, default=None,
              help="Days until the token expires (default: API_TOKEN_LIFETIME_DAYS, 90).")
def create_token_cmd(username, name, days):
    """Create an API token for USERNAME and print it (shown only once)."""
    lifetime = days if days is not None else current_app.config["API_TOKEN_LIFETIME_DAYS"]
    try:
        with session_scope() as session:
            user = services.get_user_by_username(session, username)
            _token, raw = services.create_token(session, user, name, lifetime_days=lifetime)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(raw)


@tokens_cli.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
def list_tokens_cmd(username):
    """List API tokens: id, user, name, first characters, created, expires, state (never the token itself)."""
    try:
        with session_scope() as session:
            user = services.get_user_by_username(session, username) if username else None
            rows = services.list_tokens(session, user)
            lines = [f"{t.id}\t{u.username}\t{t.name}\t{t.prefix}…\t{t.created_at:%Y-%m-%d}\t"
                     f"{t.expires_at:%Y-%m-%d}\t{services.token_state(t)}" for t, u in rows]
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo("id\tuser\tname\tstarts with\tcreated\texpires\tstate")
    for line in lines:
        click.echo(line)


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token_cmd(token_id):
    """Revoke the API token with this id (see `tokens list`); it is refused from the next call on."""
    try:
        with session_scope() as session:
            token = services.revoke_token(session, None, token_id)
            click.echo(f"revoked token {token.id} ({token.prefix}…)")
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
