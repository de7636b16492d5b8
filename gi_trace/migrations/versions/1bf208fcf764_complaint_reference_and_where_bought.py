"""complaint reference and where bought; goji test label names the grain count

A complaint gets the reference its complainant follows it up with (existing complaints get one made
from their date and number) and where the product was bought (shop, city, online platform, order no.).
The 中宁枸杞 stage template's test field "百粒重（粒/50克）" is renamed "每50克粒数": it is a grain count
per 50 g, not a weight (the field name grains_per_50g does not change).

Revision ID: 1bf208fcf764
Revises: d81f3b6c2a47
Create Date: 2026-11-29 08:10:00
"""
import json

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '1bf208fcf764'
down_revision = 'd81f3b6c2a47'
branch_labels = None
depends_on = None

OLD_LABEL = "百粒重（粒/50克）"
NEW_LABEL = "每50克粒数"


def upgrade() -> None:
    with op.batch_alter_table('complaint') as batch:
        batch.add_column(sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('bought_shop', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('bought_city', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('bought_platform', sqlmodel.sql.sqltypes.AutoString(length=100),
                                   nullable=False, server_default=''))
        batch.add_column(sa.Column('order_no', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False,
                                   server_default=''))
    op.create_index(op.f('ix_complaint_reference'), 'complaint', ['reference'], unique=False)
    conn = op.get_bind()
    for cid, created in conn.execute(sa.text("SELECT id, created_at FROM complaint")).all():
        day = str(created)[:10].replace("-", "")
        conn.execute(sa.text("UPDATE complaint SET reference = :r WHERE id = :id"),
                     {"r": f"TS{day}-{cid}", "id": cid})
    for pid, template in conn.execute(sa.text("SELECT id, stage_template FROM product")).all():
        if template is None:
            continue
        text = template if isinstance(template, str) else json.dumps(template, ensure_ascii=False)
        if OLD_LABEL in text:
            value = "CAST(:t AS JSON)" if conn.dialect.name == "postgresql" else ":t"
            conn.execute(sa.text(f"UPDATE product SET stage_template = {value} WHERE id = :id"),
                         {"t": text.replace(OLD_LABEL, NEW_LABEL), "id": pid})


def downgrade() -> None:
    op.drop_index(op.f('ix_complaint_reference'), table_name='complaint')
    with op.batch_alter_table('complaint') as batch:
        for name in ('order_no', 'bought_platform', 'bought_city', 'bought_shop', 'reference'):
            batch.drop_column(name)
