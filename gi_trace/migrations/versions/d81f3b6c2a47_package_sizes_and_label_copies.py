"""package sizes approved per product; batch-label copies counted

`product.package_sizes_kg`: the sizes a regulator approved for unit codes (中宁枸杞 gets retail and
wholesale packs from 100 g to 20 kg). `batch.label_copies`: printed copies of a batch code, which count
against the batch's kilograms like unit codes.

Revision ID: d81f3b6c2a47
Revises: c5e1a9d2f301
Create Date: 2026-11-29 08:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'd81f3b6c2a47'
down_revision = 'c5e1a9d2f301'
branch_labels = None
depends_on = None

GOJI_PACKAGE_SIZES_KG = [0.1, 0.125, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0]


def upgrade() -> None:
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('package_sizes_kg', sa.JSON(), nullable=True))
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_copies', sa.Integer(), server_default='0', nullable=False))
    product = sa.table('product', sa.column('slug', sa.String()), sa.column('package_sizes_kg', sa.JSON()))
    op.execute(product.update().where(product.c.slug == 'zhongning-goji')
               .values(package_sizes_kg=GOJI_PACKAGE_SIZES_KG))


def downgrade() -> None:
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_column('label_copies')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('package_sizes_kg')
