"""authorisations carry their evidence and coded reasons; a product's default term

Revision ID: d2b7c4e9a1f3
Revises: c5a1e0d2f7b1
Create Date: 2026-11-29 08:05:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'd2b7c4e9a1f3'
down_revision = 'c5a1e0d2f7b1'
branch_labels = None
depends_on = None

_TEXT = (('reason_code', 32), ('contract_no', 64), ('notice_no', 64), ('standard', 100), ('test_report_no', 64),
         ('sources', 1000))


def upgrade() -> None:
    for name, length in _TEXT:
        op.add_column('authorisationdecision', sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length),
                                                         nullable=False, server_default=''))
    op.add_column('product', sa.Column('authorisation_term_years', sa.Integer(), nullable=True))
    op.execute("UPDATE product SET authorisation_term_years = 3")
    # Reasons recorded before coding are "other" (their text stays).
    op.execute("UPDATE authorisationdecision SET reason_code = 'other' "
               "WHERE action IN ('reject', 'suspend', 'revoke')")


def downgrade() -> None:
    op.drop_column('product', 'authorisation_term_years')
    for name, _length in reversed(_TEXT):
        op.drop_column('authorisationdecision', name)
