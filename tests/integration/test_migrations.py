"""Migrating an empty database gives exactly the schema the models declare."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import Session, SQLModel, select

from gi_trace import create_app
from gi_trace.migrate import upgrade_database
from gi_trace.registry.models import Product, ProductTown, Region


def test_upgrade_of_empty_database_matches_models(empty_database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": empty_database_url, "SECRET_KEY": "x"})
    upgrade_database(app)
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            tables = set(inspect(conn).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
        with Session(engine) as session:
            # reference data comes with the upgrade
            assert session.exec(select(Region).where(Region.level == "county")).all()
            goji = session.exec(select(Product).where(Product.slug == "zhongning-goji")).one()
            towns = session.exec(select(ProductTown.town_code).where(ProductTown.product_id == goji.id)).all()
            assert len(towns) == 11 and "640521206" not in towns
    finally:
        engine.dispose()
        from gi_trace.db import get_engine

        get_engine(app).dispose()


def test_upgrade_twice_changes_nothing(empty_database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": empty_database_url, "SECRET_KEY": "x"})
    upgrade_database(app)
    upgrade_database(app)
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        with Session(engine) as session:
            assert len(session.exec(select(Region)).all()) == 1 + 3 + 11 + 12 + 17
    finally:
        engine.dispose()
        from gi_trace.db import get_engine

        get_engine(app).dispose()
