"""producer deregistration: who took a producer off the register, why and when it was recorded

Revision ID: e4a7c2b9d150
Revises: 5c469b5a6860
Create Date: 2026-11-29 11:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import gi_trace.types


revision = 'e4a7c2b9d150'
down_revision = '5c469b5a6860'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('producer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deregistered_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deregistration_reason', sqlmodel.sql.sqltypes.AutoString(length=500),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('deregistration_recorded_at', gi_trace.types.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('producer', schema=None) as batch_op:
        batch_op.drop_column('deregistration_recorded_at')
        batch_op.drop_column('deregistration_reason')
        batch_op.drop_column('deregistered_by')
