"""sessions end on logout; API tokens expire; scan counters count days

`scancounter.days` / `last_day`: counterfeit signals count distinct networks and days, never repeated
scans from one network (counters start counting days from the upgrade).
`companyprefix`: GS1 company prefixes recorded per producer; GTINs are registered only under them
(product lines registered before keep their GTINs).

`user.session_version` is copied into each login session and raised on logout, so a copied cookie stops
working. `apitoken.expires_at`: existing tokens get 90 days from the upgrade (not from their creation,
so no client is cut off by the upgrade itself).

Revision ID: c5e1a9d2f301
Revises: cd762b590149
Create Date: 2026-11-29 07:40:00
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa
import sqlmodel
import gi_trace.types


revision = 'c5e1a9d2f301'
down_revision = 'cd762b590149'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('companyprefix',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('recorded_at', gi_trace.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['producer_id'], ['producer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('companyprefix', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_companyprefix_prefix'), ['prefix'], unique=True)
        batch_op.create_index(batch_op.f('ix_companyprefix_producer_id'), ['producer_id'], unique=False)
    with op.batch_alter_table('scancounter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('days', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_day', sqlmodel.sql.sqltypes.AutoString(length=10), server_default='',
                                      nullable=False))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', gi_trace.types.UTCDateTime(timezone=True), nullable=True))
    apitoken = sa.table('apitoken', sa.column('expires_at', gi_trace.types.UTCDateTime(timezone=True)))
    op.execute(apitoken.update().values(expires_at=datetime.now(timezone.utc) + timedelta(days=90)))
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=gi_trace.types.UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    op.drop_table('companyprefix')
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('scancounter', schema=None) as batch_op:
        batch_op.drop_column('last_day')
        batch_op.drop_column('days')
