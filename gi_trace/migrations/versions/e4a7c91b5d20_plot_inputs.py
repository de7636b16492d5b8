"""inputs per plot and season; planting events' inputs moved to their plots

`plotinput`: an input (施肥, 用药, other) applied on a plot, with its 农药登记证号, active ingredient, dose,
date, safety interval and who applied it; never edited (a correction supersedes). The inputs that
"planting" events carried move to their plot and season as records pointing at their source event
(`source_event_id`): the events and their hash chains are untouched (nothing is rewritten, rows are
only added). Of a corrected planting event only the latest correction's inputs count. The planting
stage of stored product templates loses its "inputs" field: inputs are recorded on the plot now.

Revision ID: e4a7c91b5d20
Revises: e4a7c2b9d0f1
Create Date: 2026-11-29 11:40:00
"""
from datetime import date, datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa
import sqlmodel
import gi_trace.types


revision = 'e4a7c91b5d20'
down_revision = 'e4a7c2b9d0f1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'plotinput',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plot_id', sa.Integer(), nullable=False),
        sa.Column('season', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('product_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('registration_no', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('active_ingredient', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('dose', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('applied_on', sa.Date(), nullable=False),
        sa.Column('safety_interval_days', sa.Integer(), nullable=True),
        sa.Column('applied_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
        sa.Column('recorded_at', gi_trace.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('supersedes_id', sa.Integer(), nullable=True),
        sa.Column('correction_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('source_event_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['plot_id'], ['plot.id'], ),
        sa.ForeignKeyConstraint(['recorded_by'], ['user.id'], ),
        sa.ForeignKeyConstraint(['source_event_id'], ['event.id'], ),
        sa.ForeignKeyConstraint(['supersedes_id'], ['plotinput.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('supersedes_id', name='uq_plotinput_supersedes'),
    )
    with op.batch_alter_table('plotinput', schema=None) as batch_op:
        batch_op.create_index('ix_plotinput_plot_season', ['plot_id', 'season'], unique=False)
    move_planting_inputs(op.get_bind())
    drop_planting_inputs_field(op.get_bind())


def _aware(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _text(value, limit: int) -> str:
    return str(value).strip()[:limit] if value is not None else ""


def move_planting_inputs(conn) -> int:
    """Add one plotinput row per input of every standing planting event (returns how many)."""
    event = sa.table('event', sa.column('id', sa.Integer()), sa.column('stage', sa.String()),
                     sa.column('data', sa.JSON()), sa.column('occurred_at', gi_trace.types.UTCDateTime()),
                     sa.column('utc_offset_min', sa.Integer()), sa.column('recorded_by', sa.Integer()),
                     sa.column('recorded_at', gi_trace.types.UTCDateTime()),
                     sa.column('corrects_event_id', sa.Integer()))
    plot = sa.table('plot', sa.column('id', sa.Integer()))
    plotinput = sa.table(
        'plotinput', sa.column('plot_id', sa.Integer()), sa.column('season', sa.Integer()),
        sa.column('kind', sa.String()), sa.column('product_name', sa.String()),
        sa.column('registration_no', sa.String()), sa.column('active_ingredient', sa.String()),
        sa.column('dose', sa.String()), sa.column('applied_on', sa.Date()),
        sa.column('safety_interval_days', sa.Integer()), sa.column('applied_by', sa.String()),
        sa.column('recorded_by', sa.Integer()), sa.column('recorded_at', gi_trace.types.UTCDateTime()),
        sa.column('correction_reason', sa.String()), sa.column('source_event_id', sa.Integer()))
    rows = conn.execute(sa.select(event.c.id, event.c.data, event.c.occurred_at, event.c.utc_offset_min,
                                  event.c.recorded_by, event.c.recorded_at, event.c.corrects_event_id)
                        .where(event.c.stage == 'planting').order_by(event.c.id)).all()
    corrected = {r.corrects_event_id for r in rows if r.corrects_event_id is not None}
    plots = set(conn.execute(sa.select(plot.c.id)).scalars().all())
    added = []
    for r in rows:
        if r.id in corrected:  # a later correction replaced this event's content
            continue
        data = r.data if isinstance(r.data, dict) else {}
        items = data.get('inputs') or []
        plot_id = data.get('plot_id')
        if not isinstance(items, list) or plot_id not in plots:
            continue
        occurred = _aware(r.occurred_at)
        event_day = (occurred + timedelta(minutes=r.utc_offset_min or 0)).date()
        for item in items:
            if not isinstance(item, dict) or not str(item.get('name') or '').strip():
                continue
            try:
                applied = date.fromisoformat(item['applied_on']) if item.get('applied_on') else event_day
            except (TypeError, ValueError):
                applied = event_day
            interval = item.get('safety_interval_days')
            interval = int(interval) if isinstance(interval, (int, float)) and not isinstance(interval, bool) \
                and interval >= 0 else None
            added.append({
                # The planting form never said what kind of input it was: "other" until a correction says.
                'plot_id': plot_id, 'season': applied.year, 'kind': 'other',
                'product_name': _text(item['name'], 200), 'registration_no': '', 'active_ingredient': '',
                'dose': _text(item.get('amount'), 100), 'applied_on': applied, 'safety_interval_days': interval,
                'applied_by': '', 'recorded_by': r.recorded_by,
                'recorded_at': _aware(r.recorded_at) or datetime.now(timezone.utc),
                'correction_reason': '', 'source_event_id': r.id})
    if added:
        conn.execute(plotinput.insert(), added)
    return len(added)


def drop_planting_inputs_field(conn) -> None:
    """Inputs are recorded on the plot: the planting stage of stored templates no longer asks for them."""
    product = sa.table('product', sa.column('id', sa.Integer()), sa.column('stage_template', sa.JSON()))
    for product_id, template in conn.execute(sa.select(product.c.id, product.c.stage_template)).all():
        if not isinstance(template, list):
            continue
        changed = False
        stages = []
        for stage in template:
            if isinstance(stage, dict) and stage.get('stage') == 'planting' and any(
                    isinstance(f, dict) and f.get('type') == 'inputs' for f in stage.get('fields') or []):
                stage = {**stage, 'fields': [f for f in stage['fields']
                                             if not (isinstance(f, dict) and f.get('type') == 'inputs')]}
                changed = True
            stages.append(stage)
        if changed:
            conn.execute(product.update().where(product.c.id == product_id).values(stage_template=stages))


def downgrade() -> None:
    with op.batch_alter_table('plotinput', schema=None) as batch_op:
        batch_op.drop_index('ix_plotinput_plot_season')
    op.drop_table('plotinput')
