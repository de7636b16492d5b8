"""`flask --app gi_trace backup DEST` and `restore SOURCE`."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from gi_trace.ops.backup import BackupError, backup, restore


@click.command("backup")
@click.argument("dest", type=click.Path())
@with_appcontext
def backup_cmd(dest: str) -> None:
    """Write a consistent online copy of the database to DEST (a file, or an existing folder / a path ending in /).

    SQLite uses the online-backup API (the app may keep running); PostgreSQL uses
    `pg_dump --format=custom`. Check a copy with `restore` into a scratch database and `verify`.
    """
    url = current_app.config["DATABASE_URL"]
    with click.progressbar(length=1, label="backing up", show_percent=True) as bar:
        def progress(done, total):
            bar.length = max(total, 1)
            bar.update(done - bar.pos)
        try:
            path = backup(url, dest, progress=progress)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        bar.update(bar.length - bar.pos)
    click.echo(f"backup written: {path} ({path.stat().st_size:,} bytes)")


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_cmd(source: Path, yes: bool) -> None:
    """Replace the database with the backup in SOURCE. Stop the app servers first; run `verify` after."""
    url = current_app.config["DATABASE_URL"]
    if not yes:
        click.confirm(f"Replace the database {url.split('@')[-1]} with {source}?", abort=True)
    try:
        restore(url, source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {source}")


def register(app: Flask) -> None:
    app.cli.add_command(backup_cmd)
    app.cli.add_command(restore_cmd)
