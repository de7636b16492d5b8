"""measured tests: product limits as versioned data; the computed verdict kept on the batch

`productlimits`: versions of a product's quality limits (moisture, SO₂, grade scale, residue limits with a
default, banned substances), each recorded by a regulator with the date it takes effect; 中宁枸杞 gets its
first version with DEMO values (labelled as such). `batch.quality`: the verdict the projection computes.

Stored stage templates lose the typed pass ticks (so2_pass, pesticide_pass) in favour of measured values;
events keep their data. Every pre-existing "passed" rested on typed ticks, not measured values, so such
batches read "untested" until a test with measured values is recorded (never greener than the evidence);
failures stay failed.

Revision ID: e4a7c2d9b613
Revises: f3b8d1c6a204
Create Date: 2026-11-29 11:50:00
"""
import json
from datetime import date, datetime, timezone

from alembic import op
import sqlalchemy as sa

import gi_trace.types


revision = 'e4a7c2d9b613'
down_revision = 'f3b8d1c6a204'
branch_labels = None
depends_on = None

TEST_FIELDS_GOJI = json.loads('[{"name": "lab", "type": "string", "required": true, "label_zh": "检测机构", "label_en": "Laboratory"}, {"name": "lab_cma_no", "type": "string", "required": false, "label_zh": "检测机构CMA证书编号", "label_en": "Laboratory CMA certificate no."}, {"name": "report_no", "type": "string", "required": true, "label_zh": "报告编号", "label_en": "Report number"}, {"name": "sampled_at", "type": "date", "required": true, "label_zh": "抽样日期", "label_en": "Sampled on"}, {"name": "sampled_by", "type": "string", "required": true, "label_zh": "抽样人", "label_en": "Sampled by"}, {"name": "method", "type": "string", "required": true, "label_zh": "检测方法（标准）", "label_en": "Method (standards)"}, {"name": "moisture_pct", "type": "number", "required": true, "label_zh": "含水率", "label_en": "Moisture", "unit": "%"}, {"name": "so2_mg_per_kg", "type": "number", "required": true, "label_zh": "二氧化硫残留量", "label_en": "SO₂ residue", "unit": "mg/kg"}, {"name": "grains_per_50g", "type": "integer", "required": true, "label_zh": "每50克粒数", "label_en": "Grains per 50 g"}, {"name": "residues", "type": "residues", "required": true, "label_zh": "农药残留（检出值）", "label_en": "Pesticide residues (measured)"}, {"name": "lab_verdict", "type": "choice", "required": false, "label_zh": "检测机构结论（仅记录，不作判定依据）", "label_en": "Laboratory\'s conclusion (recorded, not decisive)", "choices": [{"value": "pass", "label_zh": "合格", "label_en": "Pass"}, {"value": "fail", "label_zh": "不合格", "label_en": "Fail"}]}]')
TEST_FIELDS_GENERIC = json.loads('[{"name": "lab", "type": "string", "required": true, "label_zh": "检测机构", "label_en": "Laboratory"}, {"name": "lab_cma_no", "type": "string", "required": false, "label_zh": "检测机构CMA证书编号", "label_en": "Laboratory CMA certificate no."}, {"name": "report_no", "type": "string", "required": true, "label_zh": "报告编号", "label_en": "Report number"}, {"name": "sampled_at", "type": "date", "required": true, "label_zh": "抽样日期", "label_en": "Sampled on"}, {"name": "sampled_by", "type": "string", "required": true, "label_zh": "抽样人", "label_en": "Sampled by"}, {"name": "method", "type": "string", "required": true, "label_zh": "检测方法（标准）", "label_en": "Method (standards)"}, {"name": "moisture_pct", "type": "number", "required": false, "label_zh": "含水率", "label_en": "Moisture", "unit": "%"}, {"name": "so2_mg_per_kg", "type": "number", "required": false, "label_zh": "二氧化硫残留量", "label_en": "SO₂ residue", "unit": "mg/kg"}, {"name": "grains_per_50g", "type": "integer", "required": false, "label_zh": "每50克粒数", "label_en": "Grains per 50 g"}, {"name": "residues", "type": "residues", "required": true, "label_zh": "农药残留（检出值）", "label_en": "Pesticide residues (measured)"}, {"name": "lab_verdict", "type": "choice", "required": false, "label_zh": "检测机构结论（仅记录，不作判定依据）", "label_en": "Laboratory\'s conclusion (recorded, not decisive)", "choices": [{"value": "pass", "label_zh": "合格", "label_en": "Pass"}, {"value": "fail", "label_zh": "不合格", "label_en": "Fail"}]}]')
GOJI_DEMO_LIMITS = json.loads('{"effective_from": "2015-01-01", "moisture_max_pct": 13.0, "so2_max_mg_per_kg": 50.0, "grade_scale": [{"grade": "特优", "grade_en": "Premium", "max_grains_per_50g": 280}, {"grade": "特级", "grade_en": "Special", "max_grains_per_50g": 370}, {"grade": "甲级", "grade_en": "Grade A", "max_grains_per_50g": 580}, {"grade": "乙级", "grade_en": "Grade B", "max_grains_per_50g": 900}], "residue_limits": {"吡虫啉": 1.0, "啶虫脒": 2.0, "多菌灵": 5.0, "高效氯氟氰菊酯": 0.5, "阿维菌素": 0.1, "苯醚甲环唑": 1.0, "哒螨灵": 0.5}, "default_residue_mg_per_kg": 0.01, "banned_substances": ["甲胺磷", "对硫磷", "甲基对硫磷", "久效磷", "磷胺", "甲拌磷", "克百威", "涕灭威", "氧乐果", "水胺硫磷", "毒死蜱", "三唑磷"], "source": "演示数值：须对照现行 GB/T 18672、GB 2763、GB 2760 核对 / demo values, to be checked against the standards in force", "is_demo": true}')


def upgrade() -> None:
    op.create_table(
        'productlimits',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('product.id'), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('moisture_max_pct', sa.Float(), nullable=True),
        sa.Column('so2_max_mg_per_kg', sa.Float(), nullable=True),
        sa.Column('grade_scale', sa.JSON(), nullable=True),
        sa.Column('residue_limits', sa.JSON(), nullable=True),
        sa.Column('default_residue_mg_per_kg', sa.Float(), nullable=True),
        sa.Column('banned_substances', sa.JSON(), nullable=True),
        sa.Column('source', sa.String(length=500), nullable=False),
        sa.Column('is_demo', sa.Boolean(), nullable=False),
        sa.Column('recorded_at', gi_trace.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
    )
    op.create_index('ix_productlimits_product_from', 'productlimits', ['product_id', 'effective_from'])
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality', sa.JSON(), nullable=True))

    bind = op.get_bind()
    product = sa.table('product', sa.column('id', sa.Integer()), sa.column('slug', sa.String()),
                       sa.column('stage_template', sa.JSON()))
    limits = sa.table(
        'productlimits', sa.column('product_id', sa.Integer()), sa.column('effective_from', sa.Date()),
        sa.column('moisture_max_pct', sa.Float()), sa.column('so2_max_mg_per_kg', sa.Float()),
        sa.column('grade_scale', sa.JSON()), sa.column('residue_limits', sa.JSON()),
        sa.column('default_residue_mg_per_kg', sa.Float()), sa.column('banned_substances', sa.JSON()),
        sa.column('source', sa.String()), sa.column('is_demo', sa.Boolean()),
        sa.column('recorded_at', gi_trace.types.UTCDateTime(timezone=True)))
    for row in bind.execute(sa.select(product.c.id, product.c.slug, product.c.stage_template)).all():
        template = row.stage_template
        if isinstance(template, str):
            template = json.loads(template)
        if template:
            goji = any(s.get('stage') == 'drying' for s in template)
            changed = [dict(s, fields=TEST_FIELDS_GOJI if goji else TEST_FIELDS_GENERIC)
                       if s.get('stage') == 'testing' else s for s in template]
            if changed != template:
                bind.execute(product.update().where(product.c.id == row.id).values(stage_template=changed))
        if row.slug == 'zhongning-goji':
            figures = dict(GOJI_DEMO_LIMITS)
            figures['effective_from'] = date.fromisoformat(figures['effective_from'])
            bind.execute(limits.insert().values(product_id=row.id, recorded_at=datetime.now(timezone.utc),
                                                **figures))
    batch = sa.table('batch', sa.column('test_state', sa.String()), sa.column('quality', sa.JSON()))
    bind.execute(batch.update().where(batch.c.test_state == 'passed').values(test_state='untested'))


def downgrade() -> None:
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_column('quality')
    op.drop_index('ix_productlimits_product_from', table_name='productlimits')
    op.drop_table('productlimits')
