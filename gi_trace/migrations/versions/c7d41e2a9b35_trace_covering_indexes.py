"""covering indexes for traces (the link walk and the nodes' columns) and for 以产核标 figures per party

ix_batch_balance: the capacity/harvested/received/GI-marked figures of a product and year, per party or for
the whole city, come from one pass over this index (tracing.capacity) instead of the batch rows.

A trace through ~500 sources touched ~2,000 scattered table pages (each link's row for its kind and
kilograms, each batch's wide row for its code, owner and origin); these indexes hold just those columns,
densely, so the walk and the nodes come from the indexes alone. `ix_batchlink_up` starts with
`ix_batchlink_child_parent`'s columns and replaces it.

Revision ID: c7d41e2a9b35
Revises: e4a7c91b5d20
Create Date: 2026-11-29 12:05:00
"""
from alembic import op


revision = 'c7d41e2a9b35'
down_revision = 'e4a7c91b5d20'
branch_labels = None
depends_on = None

BALANCE_COLUMNS = ['product_id', 'harvest_year', 'producer_id', 'kind', 'origin_state', 'origin_town_code',
                   'product_form', 'quantity_kg', 'units_issued', 'label_copies', 'product_line_id', 'id']
TRACE_COLUMNS = ['id', 'code', 'kind', 'producer_id', 'product_form', 'quantity_kg', 'origin_town_code',
                 'harvest_year', 'withdrawn_at']


def upgrade() -> None:
    op.create_index('ix_batchlink_up', 'batchlink', ['child_id', 'parent_id', 'kind', 'quantity_kg'], unique=False)
    op.drop_index('ix_batchlink_child_parent', table_name='batchlink')
    op.create_index('ix_batch_trace', 'batch', TRACE_COLUMNS, unique=False)
    op.create_index('ix_batch_balance', 'batch', BALANCE_COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index('ix_batch_balance', table_name='batch')
    op.drop_index('ix_batch_trace', table_name='batch')
    op.create_index('ix_batchlink_child_parent', 'batchlink', ['child_id', 'parent_id'], unique=False)
    op.drop_index('ix_batchlink_up', table_name='batchlink')
