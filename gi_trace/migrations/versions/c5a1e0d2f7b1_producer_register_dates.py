"""producers' register dates; what an official sector total counts

Producers get `registered_on` / `deregistered_on`: a year's denominator counts only the producers on the
register on its date. Existing producers are registered on the date of their first record (the earliest
of their creation, their first authorisation decision and 1 January of their first output year).
Sector totals get `scope`: protected_area (the protected towns) or whole_sector (the whole county or city);
existing totals keep the meaning the shares gave them (protected_area).

Revision ID: c5a1e0d2f7b1
Revises: 1bf208fcf764
Create Date: 2026-11-29 07:40:00
"""
from datetime import date, datetime

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'c5a1e0d2f7b1'
down_revision = '1bf208fcf764'
branch_labels = None
depends_on = None


def _day(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def upgrade() -> None:
    op.add_column('producer', sa.Column('registered_on', sa.Date(), nullable=True))
    op.add_column('producer', sa.Column('deregistered_on', sa.Date(), nullable=True))
    op.create_index(op.f('ix_producer_registered_on'), 'producer', ['registered_on'], unique=False)
    op.add_column('sectortotal', sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                           server_default='protected_area'))
    conn = op.get_bind()
    first = {}
    for pid, created in conn.execute(sa.text("SELECT id, created_at FROM producer")):
        first[pid] = _day(created)
    for pid, day in conn.execute(sa.text("SELECT producer_id, MIN(effective_date) FROM authorisationdecision "
                                         "GROUP BY producer_id")):
        day = _day(day)
        if day is not None and (first.get(pid) is None or day < first[pid]):
            first[pid] = day
    for pid, year in conn.execute(sa.text("SELECT producer_id, MIN(year) FROM outputrecord GROUP BY producer_id")):
        day = date(int(year), 1, 1) if year is not None else None
        if day is not None and (first.get(pid) is None or day < first[pid]):
            first[pid] = day
    rows = [{"b_id": pid, "b_day": day} for pid, day in first.items() if day is not None]
    if rows:
        producer = sa.table('producer', sa.column('id', sa.Integer), sa.column('registered_on', sa.Date))
        conn.execute(producer.update().where(producer.c.id == sa.bindparam('b_id'))
                     .values(registered_on=sa.bindparam('b_day')), rows)


def downgrade() -> None:
    op.drop_column('sectortotal', 'scope')
    op.drop_index(op.f('ix_producer_registered_on'), table_name='producer')
    op.drop_column('producer', 'deregistered_on')
    op.drop_column('producer', 'registered_on')
