"""epcis capture: the eventIDs captured from parties' own systems (capturedevent, capturedname)

Revision ID: a9c3e5f70b12
Revises: c7d41e2a9b35
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa

from gi_trace.types import UTCDateTime


revision = 'a9c3e5f70b12'
down_revision = 'c7d41e2a9b35'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'capturedevent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=200), nullable=False),
        sa.Column('party_id', sa.Integer(), nullable=False),
        sa.Column('captured_by', sa.Integer(), nullable=True),
        sa.Column('captured_at', UTCDateTime(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('records', sa.JSON(), nullable=False),
        sa.Column('declared_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['captured_by'], ['user.id']),
        sa.ForeignKeyConstraint(['party_id'], ['producer.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_capturedevent_event_id'), 'capturedevent', ['event_id'], unique=True)
    op.create_index(op.f('ix_capturedevent_party_id'), 'capturedevent', ['party_id'], unique=False)
    op.create_table(
        'capturedname',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('capture_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['capture_id'], ['capturedevent.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_capturedname_capture_id'), 'capturedname', ['capture_id'], unique=False)
    op.create_index(op.f('ix_capturedname_name'), 'capturedname', ['name'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_capturedname_name'), table_name='capturedname')
    op.drop_index(op.f('ix_capturedname_capture_id'), table_name='capturedname')
    op.drop_table('capturedname')
    op.drop_index(op.f('ix_capturedevent_party_id'), table_name='capturedevent')
    op.drop_index(op.f('ix_capturedevent_event_id'), table_name='capturedevent')
    op.drop_table('capturedevent')
