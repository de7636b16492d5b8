"""producer GLN: a party's GS1 Global Location Number (AI 417), who recorded it and when

Revision ID: c7d41e9a2b58
Revises: b5e2d7c1f9a3
Create Date: 2026-11-29 18:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import gi_trace.types


revision = 'c7d41e9a2b58'
down_revision = 'b5e2d7c1f9a3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('producer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gln', sqlmodel.sql.sqltypes.AutoString(length=13), nullable=True))
        batch_op.add_column(sa.Column('gln_recorded_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('gln_recorded_at', gi_trace.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index(batch_op.f('ix_producer_gln'), ['gln'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('producer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_producer_gln'))
        batch_op.drop_column('gln_recorded_at')
        batch_op.drop_column('gln_recorded_by')
        batch_op.drop_column('gln')
