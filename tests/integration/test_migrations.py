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
            assert _body_compression(conn) == _body_compression(None)  # what create_all makes (not compared above)
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


def _body_compression(conn) -> dict:
    """PostgreSQL: the stored pages' bodies' compression ('l': lz4, '': the default) on `conn`, or (None) in the
    schema the models make (the tests' database); {} on SQLite."""
    if conn is None:
        from tests.conftest import TEST_DATABASE_URL

        engine = create_engine(TEST_DATABASE_URL)
        try:
            with engine.connect() as made:
                return _body_compression(made)
        finally:
            engine.dispose()
    if conn.dialect.name != "postgresql":
        return {}
    return dict(conn.exec_driver_sql("SELECT attname, attcompression FROM pg_attribute WHERE attrelid = "
                                     "'storedpage'::regclass AND attname IN ('body_zh', 'body_en')").all())


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


def test_planting_inputs_move_to_their_plot_and_season_and_events_stay_untouched(empty_database_url):
    """The data migration of inputs: one record per input of every standing planting event, pointing at it."""
    from datetime import date, datetime, timezone

    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from gi_trace.migrate import alembic_config
    from gi_trace.registry.models import Plot
    from gi_trace.registry.reference import GOJI_STAGES, all_regions
    from gi_trace.tracing.models import Batch, Event
    from gi_trace.tracing.models_inputs import PlotInput

    app = create_app({"TESTING": True, "DATABASE_URL": empty_database_url, "SECRET_KEY": "x"})
    cfg = alembic_config(app.config["DATABASE_URL"])
    before = ScriptDirectory.from_config(cfg).get_revision("e4a7c91b5d20").down_revision
    upgrade_database(app, before)
    engine = create_engine(app.config["DATABASE_URL"])
    old_planting = {**GOJI_STAGES[0], "fields": GOJI_STAGES[0]["fields"] + [
        {"name": "inputs", "type": "inputs", "required": False, "label_zh": "投入品", "label_en": "Inputs"}]}
    at = datetime(2025, 4, 9, 17, 0, tzinfo=timezone.utc)  # 2025-04-10 01:00 in Beijing
    try:
        with Session(engine) as session:
            session.add_all(all_regions())
            session.flush()
            product = Product(slug="zhongning-goji", name_zh="中宁枸杞",
                              stage_template=[old_planting] + GOJI_STAGES[1:])
            session.add(product)
            # The producer table of that revision, not today's model (later revisions add columns to it).
            session.execute(text(
                "INSERT INTO producer (name, kind, county_code, town_code, registry_no, uscc_check_ok, "
                "address, contact_name, contact_phone, deregistration_reason, created_at) VALUES ('某合作社', "
                "'cooperative', '640521', '640521100', 'R-1', :yes, '', '', '', '', :at)"),
                {"yes": True, "at": at})
            session.flush()
            producer_id = session.execute(text("SELECT id FROM producer WHERE registry_no = 'R-1'")
                                          ).scalar_one()
            plot = Plot(producer_id=producer_id, town_code="640521100", area_mu=10)
            batch = Batch(code="ABCDEFGHJKLMN", producer_id=producer_id, product_id=product.id,
                          kind="harvest")
            session.add_all([plot, batch])
            session.flush()

            def event(seq, data, **kw):
                row = Event(batch_id=batch.id, seq=seq, stage=kw.pop("stage", "planting"), occurred_at=at, data=data,
                            hash=f"h{seq}", prev_hash=f"h{seq - 1}" if seq > 1 else "", **kw)
                session.add(row)
                session.flush()
                return row

            kept = event(1, {"plot_id": plot.id, "inputs": [
                {"name": "吡虫啉", "applied_on": "2025-05-01", "safety_interval_days": 14, "amount": "1500倍液"},
                {"name": "腐熟羊粪"}]})
            wrong = event(2, {"plot_id": plot.id, "inputs": [{"name": "错误记录", "applied_on": "2025-05-02"}]})
            fixed = event(3, {"plot_id": plot.id, "inputs": [{"name": "阿维菌素", "applied_on": "2024-12-30",
                                                               "safety_interval_days": 7}]},
                          corrects_event_id=wrong.id, correction_reason="名称写错")
            event(4, {"plot_id": plot.id, "fresh_kg": 100}, stage="harvest")
            session.commit()
            ids = (plot.id, kept.id, fixed.id)
        with engine.connect() as conn:
            events_before = conn.execute(text("SELECT * FROM event ORDER BY id")).all()

        upgrade_database(app)

        with engine.connect() as conn:
            assert conn.execute(text("SELECT * FROM event ORDER BY id")).all() == events_before
        with Session(engine) as session:
            rows = session.exec(select(PlotInput).order_by(PlotInput.id)).all()
            got = [(r.plot_id, r.season, r.kind, r.product_name, r.dose, r.applied_on, r.safety_interval_days,
                    r.source_event_id) for r in rows]
            plot_id, kept_id, fixed_id = ids
            assert got == [
                (plot_id, 2025, "other", "吡虫啉", "1500倍液", date(2025, 5, 1), 14, kept_id),
                (plot_id, 2025, "other", "腐熟羊粪", "", date(2025, 4, 10), None, kept_id),  # the event's local day
                (plot_id, 2024, "other", "阿维菌素", "", date(2024, 12, 30), 7, fixed_id),
            ]
            template = session.exec(select(Product).where(Product.slug == "zhongning-goji")).one().stage_template
            planting = next(s for s in template if s["stage"] == "planting")
            assert "inputs" not in [f["name"] for f in planting["fields"]]
            assert [s["stage"] for s in template] == [s["stage"] for s in GOJI_STAGES]
    finally:
        engine.dispose()
        from gi_trace.db import get_engine

        get_engine(app).dispose()


def test_measured_tests_migration_drops_the_pass_ticks_from_stored_templates_and_adds_demo_limits(
        empty_database_url):
    """An existing 中宁枸杞 keeps its stages, but its test stage asks for measured values; it gets the demo limits."""
    import json

    from sqlalchemy import text

    from gi_trace.migrate import alembic_config
    from alembic import command

    app = create_app({"TESTING": True, "DATABASE_URL": empty_database_url, "SECRET_KEY": "x"})
    url = app.config["DATABASE_URL"]
    command.upgrade(alembic_config(url), "f3b8d1c6a204")  # the head before measured tests
    old_testing = {"stage": "testing", "order": 3, "free": True, "fields": [
        {"name": "lab", "type": "string"}, {"name": "so2_pass", "type": "boolean", "required": True},
        {"name": "pesticide_pass", "type": "boolean", "required": True}]}
    template = [{"stage": "harvest", "order": 2}, {"stage": "drying", "order": 3}, old_testing]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO product (slug, name_zh, name_en, holder, unit, max_moisture_pct, "
                              "target_share, stage_template, created_at) VALUES ('zhongning-goji', '中宁枸杞', '', '', "
                              "'kg', 13.0, 0.6, :template, :now)"),
                         {"template": json.dumps(template, ensure_ascii=False), "now": "2025-01-01 00:00:00+00:00"})
        command.upgrade(alembic_config(url), "e4a7c2d9b613")
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT stage_template FROM product")).scalar_one()
            stored = json.loads(stored) if isinstance(stored, str) else stored
            demo = conn.execute(text("SELECT moisture_max_pct, so2_max_mg_per_kg, is_demo FROM productlimits")).one()
    finally:
        engine.dispose()
        from gi_trace.db import get_engine

        get_engine(app).dispose()


    fields = [f["name"] for f in next(s for s in stored if s["stage"] == "testing")["fields"]]
    assert "so2_pass" not in fields and "pesticide_pass" not in fields
    assert {"sampled_at", "so2_mg_per_kg", "residues", "lab_verdict"} <= set(fields)
    assert [s["stage"] for s in stored] == ["harvest", "drying", "testing"]
    assert demo[0] == 13.0 and demo[1] == 50.0 and demo[2]
