"""`flask --app gi_trace demo-data`: load the Zhongning demo dataset and demo accounts."""
from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import with_appcontext

from gi_trace.db import session_scope
from gi_trace.demo import registry_data as demo
from gi_trace.demo.batches import load_demo_batches
from gi_trace.demo.chain import load_demo_chain


@click.command("demo-data")
@click.option("--seed", type=int, default=demo.DEFAULT_SEED, show_default=True,
              help="Random seed: the same seed gives the same data.")
@click.option("--producers", type=click.IntRange(10, 5000), default=300, show_default=True,
              help="How many producers to generate.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the register already has producers.")
@with_appcontext
def demo_data_cmd(seed: int, producers: int, if_empty: bool) -> None:
    """Load a realistic, deterministic Zhongning demo dataset and print the demo logins."""
    started = time.perf_counter()
    with session_scope() as session:
        existing = demo.producers_count(session)
        if existing:
            if if_empty:
                click.echo(f"demo-data: the register already has {existing} producers; nothing loaded.")
                accounts = demo.existing_demo_accounts(session)
                if accounts:
                    click.echo(f"demo logins (username / password / role; the password is {demo.DEMO_PASSWORD} "
                               "unless it was changed):")
                    for username, note in accounts:
                        click.echo(f"  {username:<10} / {demo.DEMO_PASSWORD} / {note}")
                return
            raise click.ClickException(f"the register already has {existing} producers; demo data needs an empty "
                                       "register (use --if-empty to skip quietly)")
        summary = demo.load_demo_data(session, seed=seed, producers=producers)
        session.flush()
        batches = load_demo_batches(session)
        chain = load_demo_chain(session, seed=seed)
    elapsed = time.perf_counter() - started
    click.echo(f"demo-data (seed {seed}) loaded in {elapsed:.1f}s:")
    click.echo(f"  producers      {summary.producers} ({summary.in_area} in the protected towns of 中宁枸杞)")
    click.echo(f"  authorised     {summary.authorised_in_area_2025} in-area producers at the end of 2025 "
               f"({summary.share_2025:.0%})")
    click.echo(f"  plots {summary.plots}, trademarks {summary.trademarks}, "
               f"GS1 company prefixes {summary.gs1_prefixes}, output records {summary.outputs}, "
               f"decisions {summary.decisions}, sector totals {summary.sector_totals}")
    click.echo("demo logins (username / password / role):")
    for username, _role, note in summary.accounts:
        click.echo(f"  {username:<10} / {demo.DEMO_PASSWORD} / {note}")
    for username in summary.skipped_accounts:
        click.echo(f"  {username:<10} already existed; its password is unchanged")
    for username, note in chain.accounts:
        click.echo(f"  {username:<10} / {demo.DEMO_PASSWORD} / {note}")
    if batches.codes or chain.codes:
        click.echo("demo trace codes (open /t/<code>, or scan the QR at /t/<code>/qr.png):")
        for what, code in batches.codes + chain.codes:
            click.echo(f"  {code}  {what}")
    if batches.harvest_blocked_until:
        plot, until = batches.harvest_blocked_until
        click.echo(f"safety interval: a harvest from the producer's plot {plot} before {until} is refused "
                   "(see /my/plots as producer)")


def register(app: Flask) -> None:
    app.cli.add_command(demo_data_cmd)
