"""stored pages: PostgreSQL compresses the page bodies with lz4 (where the server has it)

A correction on a harvest stores the pages of every batch made from it again (10,000 pages, ~3.5 KB each
compressed); pglz, the default, took about twice as long on the server as lz4. Only values written from now
on are compressed with lz4 (`pages rebuild` rewrites them all); SQLite is unchanged.

Revision ID: b5e2d7c1f9a3
Revises: a9c3e5f70b12
Create Date: 2026-11-29 15:20:00
"""
from alembic import op


revision = 'b5e2d7c1f9a3'
down_revision = 'a9c3e5f70b12'
branch_labels = None
depends_on = None

LZ4_AVAILABLE = "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"


def _compress(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not bind.exec_driver_sql(LZ4_AVAILABLE).first():
        return
    for column in ("body_zh", "body_en"):
        op.execute(f"ALTER TABLE storedpage ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _compress("lz4")


def downgrade() -> None:
    _compress("pglz")
