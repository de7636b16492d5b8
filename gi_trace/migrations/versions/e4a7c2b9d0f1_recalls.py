"""recalls: a withdrawn batch and every batch made from it (recall, recallmember, recalllift)

Batches withdrawn before recalls existed become recalls too (reason and date of their withdrawal),
with every batch made from them as members: their descendants stop being shown as sellable.

Revision ID: e4a7c2b9d0f1
Revises: e4a7c2d9b613
Create Date: 2026-11-29 11:20:00
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from gi_trace.types import UTCDateTime, utcnow


revision = 'e4a7c2b9d0f1'
down_revision = 'e4a7c2d9b613'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'recall',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source_batch_id', sa.Integer(), nullable=False),
        sa.Column('source_code', sa.String(length=14), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=False),
        sa.Column('recalled_at', UTCDateTime(), nullable=False),
        sa.Column('recalled_by', sa.Integer(), nullable=True),
        sa.Column('by_role', sa.String(length=16), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('batches', sa.Integer(), nullable=False),
        sa.Column('units', sa.Integer(), nullable=False),
        sa.Column('owners', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['event.id']),
        sa.ForeignKeyConstraint(['recalled_by'], ['user.id']),
        sa.ForeignKeyConstraint(['source_batch_id'], ['batch.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_recall_source', 'recall', ['source_batch_id'], unique=False)
    op.create_table(
        'recallmember',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recall_id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('added_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['batch.id']),
        sa.ForeignKeyConstraint(['recall_id'], ['recall.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('batch_id', 'recall_id', name='uq_recallmember_batch_recall'),
    )
    op.create_index('ix_recallmember_recall', 'recallmember', ['recall_id', 'batch_id'], unique=False)
    op.create_table(
        'recalllift',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recall_id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=False),
        sa.Column('lifted_at', UTCDateTime(), nullable=False),
        sa.Column('lifted_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['batch.id']),
        sa.ForeignKeyConstraint(['lifted_by'], ['user.id']),
        sa.ForeignKeyConstraint(['recall_id'], ['recall.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recall_id', 'batch_id', name='uq_recalllift_recall_batch'),
    )
    _backfill()


def _backfill() -> None:
    """A recall for every batch withdrawn so far, reaching everything made from it."""
    bind = op.get_bind()
    withdrawn = bind.execute(sa.text(
        "SELECT id, code, withdrawn_reason, withdrawn_at, withdrawn_by FROM batch WHERE withdrawn_at IS NOT NULL "
        "ORDER BY id")).all()
    recall = sa.table('recall', sa.column('id', sa.Integer), sa.column('source_batch_id', sa.Integer),
                      sa.column('source_code', sa.String), sa.column('reason', sa.String),
                      sa.column('recalled_at', UTCDateTime()), sa.column('recalled_by', sa.Integer),
                      sa.column('by_role', sa.String), sa.column('batches', sa.Integer),
                      sa.column('units', sa.Integer), sa.column('owners', sa.Integer),
                      sa.column('created_at', UTCDateTime()))
    members = sa.text("""
INSERT INTO recallmember (recall_id, batch_id, added_at)
WITH RECURSIVE down(id) AS (
    SELECT CAST(:root AS INTEGER)
    UNION
    SELECT l.child_id FROM batchlink l JOIN down ON l.parent_id = down.id
)
SELECT :recall_id, down.id, :now FROM down""").bindparams(sa.bindparam("now", type_=UTCDateTime()))
    for batch_id, code, reason, at, by in withdrawn:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        result = bind.execute(recall.insert().values(
            source_batch_id=batch_id, source_code=code, reason=reason or "", recalled_at=at, recalled_by=by,
            by_role="", batches=0, units=0, owners=0, created_at=utcnow()))
        recall_id = result.inserted_primary_key[0]
        bind.execute(members, {"root": batch_id, "recall_id": recall_id, "now": utcnow()})
        bind.execute(sa.text(
            "UPDATE recall SET batches = (SELECT COUNT(*) FROM recallmember m WHERE m.recall_id = :r), "
            "units = (SELECT COALESCE(SUM(b.units_issued), 0) FROM recallmember m JOIN batch b ON b.id = m.batch_id "
            "WHERE m.recall_id = :r), owners = (SELECT COUNT(DISTINCT b.producer_id) FROM recallmember m "
            "JOIN batch b ON b.id = m.batch_id WHERE m.recall_id = :r) WHERE id = :r"), {"r": recall_id})


def downgrade() -> None:
    op.drop_table('recalllift')
    op.drop_index('ix_recallmember_recall', table_name='recallmember')
    op.drop_table('recallmember')
    op.drop_index('ix_recall_source', table_name='recall')
    op.drop_table('recall')
