"""stored pages: a narrow table of the pages no write has invalidated

A writer used to delete the wide stored-page rows (two languages of HTML) of every batch made from the
one it changed; it now deletes these narrow rows. Every stored page there is now starts live: a page is
written only while current, and a write deleted its row.

Revision ID: f3b8d1c6a204
Revises: e4a7c2b9d150
Create Date: 2026-11-29 11:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'f3b8d1c6a204'
down_revision = 'e4a7c2b9d150'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('storedpagelive',
                    sa.Column('batch_id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.PrimaryKeyConstraint('batch_id'))
    op.execute("INSERT INTO storedpagelive (batch_id) SELECT batch_id FROM storedpage")


def downgrade() -> None:
    # Pages whose live row is gone are stale: drop them with the table, as the old writers did.
    op.execute("DELETE FROM storedpage WHERE batch_id NOT IN (SELECT batch_id FROM storedpagelive)")
    op.drop_table('storedpagelive')
