"""Reference data loaded into every database: Zhongwei's divisions and 中宁枸杞.

Source: ../shared/domain.md (statistical codes of 中卫市 640500 and its counties and towns).
"""
from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from gi_trace.registry.models import Product, ProductLimits, ProductRegistration, ProductTown, Region

CITY = ("640500", "中卫市", "Zhongwei")

# county code, name, English name, [(last three digits, name, English name)]
COUNTIES = [
    ("640502", "沙坡头区", "Shapotou District", [
        ("100", "滨河镇", "Binhe"), ("101", "文昌镇", "Wenchang"), ("102", "东园镇", "Dongyuan"),
        ("103", "柔远镇", "Rouyuan"), ("104", "镇罗镇", "Zhenluo"), ("105", "宣和镇", "Xuanhe"),
        ("106", "永康镇", "Yongkang"), ("107", "常乐镇", "Changle"), ("108", "迎水桥镇", "Yingshuiqiao"),
        ("109", "兴仁镇", "Xingren"), ("200", "香山乡", "Xiangshan"),
    ]),
    ("640521", "中宁县", "Zhongning County", [
        ("100", "宁安镇", "Ning'an"), ("101", "鸣沙镇", "Mingsha"), ("102", "石空镇", "Shikong"),
        ("103", "新堡镇", "Xinbao"), ("104", "恩和镇", "Enhe"), ("105", "大战场镇", "Dazhanchang"),
        ("200", "舟塔乡", "Zhouta"), ("201", "白马乡", "Baima"), ("202", "余丁乡", "Yuding"),
        ("204", "喊叫水乡", "Hanjiaoshui"), ("205", "徐套乡", "Xutao"), ("206", "太阳梁乡", "Taiyangliang"),
    ]),
    ("640522", "海原县", "Haiyuan County", [
        ("100", "海城镇", "Haicheng"), ("101", "李旺镇", "Liwang"), ("103", "西安镇", "Xi'an"),
        ("104", "三河镇", "Sanhe"), ("105", "七营镇", "Qiying"), ("200", "史店乡", "Shidian"),
        ("201", "树台乡", "Shutai"), ("202", "关桥乡", "Guanqiao"), ("206", "高崖乡", "Gaoya"),
        ("207", "郑旗乡", "Zhengqi"), ("208", "贾塘乡", "Jiatang"), ("209", "曹洼乡", "Caowa"),
        ("210", "九彩乡", "Jiucai"), ("211", "李俊乡", "Lijun"), ("212", "红羊乡", "Hongyang"),
        ("213", "关庄乡", "Guanzhuang"), ("214", "甘城乡", "Gancheng"),
    ]),
]

GOJI_SLUG = "zhongning-goji"
# The 11 protected towns of 中宁县; 太阳梁乡 (206) is in the county but not protected.
GOJI_TOWNS = ["640521" + s for s in ("100", "101", "102", "103", "104", "105", "200", "201", "202", "204", "205")]

# GB/T 18672-2014: grains per 50 g, upper bounds.
GOJI_GRADES = [
    {"grade": "特优", "grade_en": "Premium", "max_grains_per_50g": 280},
    {"grade": "特级", "grade_en": "Special", "max_grains_per_50g": 370},
    {"grade": "甲级", "grade_en": "Grade A", "max_grains_per_50g": 580},
    {"grade": "乙级", "grade_en": "Grade B", "max_grains_per_50g": 900},
]

# Quality limits of 中宁枸杞 shipped as DEMO values: plausible figures in the shape of GB/T 18672-2014
# (moisture, grades) and GB 2763 (maximum residue limits), to be checked by a regulator against the
# standards in force and recorded again as a new version (registry.limits). Until then every page that
# shows them says they are demo values.
GOJI_DEMO_LIMITS = {
    "effective_from": "2015-01-01",
    "moisture_max_pct": 13.0,
    "so2_max_mg_per_kg": 50.0,
    "grade_scale": GOJI_GRADES,
    "residue_limits": {"吡虫啉": 1.0, "啶虫脒": 2.0, "多菌灵": 5.0, "高效氯氟氰菊酯": 0.5, "阿维菌素": 0.1,
                       "苯醚甲环唑": 1.0, "哒螨灵": 0.5},
    "default_residue_mg_per_kg": 0.01,
    "banned_substances": ["甲胺磷", "对硫磷", "甲基对硫磷", "久效磷", "磷胺", "甲拌磷", "克百威", "涕灭威",
                          "氧乐果", "水胺硫磷", "毒死蜱", "三唑磷"],
    "source": "演示数值：须对照现行 GB/T 18672、GB 2763、GB 2760 核对 / demo values, to be checked against the "
              "standards in force",
    "is_demo": True,
}

# Stage template: data, not code (tracing.rules validates events against it; the producer portal
# builds its forms from it). Per stage:
#   order       stages with a "fixed" place must follow each other in this order (equal = same place);
#   free        may be recorded at any point once the batch has reached `after` (tests, storage);
#   start       may be a harvest batch's first stage;  repeatable: may be recorded more than once;
#   quantity_field  the data field that is the event's quantity in kg;
#   fields      name, type (string text number integer date datetime boolean choice plot inputs),
#               unit, required, choices, label_zh, label_en.
def _f(name, type_, label_zh, label_en, *, required=False, unit=None, choices=None):
    field = {"name": name, "type": type_, "required": required, "label_zh": label_zh, "label_en": label_en}
    if unit:
        field["unit"] = unit
    if choices:
        field["choices"] = choices
    return field


# A test (检测) is evidence: the lab, its report, who sampled when and by which method, and the measured
# values. The verdict and the grade are computed from the values and the product's limits in force on
# the sampling date (tracing.quality); the lab's own conclusion is recorded but never decides. Older
# events may carry typed ticks (so2_pass, pesticide_pass): they are read, never offered again.
LAB_VERDICT_CHOICES = [{"value": "pass", "label_zh": "合格", "label_en": "Pass"},
                       {"value": "fail", "label_zh": "不合格", "label_en": "Fail"}]


def _test_fields(*, goji: bool) -> list:
    return [
        _f("lab", "string", "检测机构", "Laboratory", required=True),
        _f("lab_cma_no", "string", "检测机构CMA证书编号", "Laboratory CMA certificate no."),
        _f("report_no", "string", "报告编号", "Report number", required=True),
        _f("sampled_at", "date", "抽样日期", "Sampled on", required=True),
        _f("sampled_by", "string", "抽样人", "Sampled by", required=True),
        _f("method", "string", "检测方法（标准）", "Method (standards)", required=True),
        _f("moisture_pct", "number", "含水率", "Moisture", required=goji, unit="%"),
        _f("so2_mg_per_kg", "number", "二氧化硫残留量", "SO₂ residue", required=goji, unit="mg/kg"),
        _f("grains_per_50g", "integer", "每50克粒数", "Grains per 50 g", required=goji),
        # [{"substance", "mg_per_kg"}]; an empty list: no residue found above the method's limit.
        _f("residues", "residues", "农药残留（检出值）", "Pesticide residues (measured)", required=True),
        _f("lab_verdict", "choice", "检测机构结论（仅记录，不作判定依据）", "Laboratory's conclusion (recorded, not decisive)",
           choices=LAB_VERDICT_CHOICES),
    ]


TEST_FIELDS_GOJI = _test_fields(goji=True)
TEST_FIELDS_GENERIC = _test_fields(goji=False)

GOJI_STAGES = [
    {"stage": "planting", "name_zh": "种植", "name_en": "Planting", "order": 1, "start": True,
     "repeatable": False, "fields": [
         _f("plot_id", "plot", "地块", "Plot", required=True),
         _f("cultivar", "string", "品种", "Cultivar"),
         _f("planted_on", "date", "定植日期", "Planted on"),
         # Inputs (施肥, 用药) are recorded on the plot, per season, not on a batch (tracing.services.inputs).
     ]},
    {"stage": "harvest", "name_zh": "采摘", "name_en": "Harvest", "order": 2, "start": True,
     "repeatable": True, "quantity_field": "fresh_kg", "fields": [
         _f("plot_id", "plot", "地块", "Plot", required=True),
         _f("picking_round", "integer", "采摘茬次", "Picking round"),
         _f("fresh_kg", "number", "鲜果重量", "Fresh weight", required=True, unit="kg"),
     ]},
    {"stage": "drying", "name_zh": "制干", "name_en": "Drying", "order": 3, "repeatable": False,
     "quantity_field": "dried_kg_out", "fields": [
         _f("method", "choice", "制干方式", "Method", required=True,
            choices=[{"value": "sun", "label_zh": "自然晾晒", "label_en": "Sun drying"},
                     {"value": "hot_air", "label_zh": "热风烘干", "label_en": "Hot-air drying"}]),
         _f("started_at", "datetime", "开始时间", "Started"),
         _f("ended_at", "datetime", "结束时间", "Ended"),
         _f("temperature_c", "number", "温度", "Temperature", unit="°C"),
         _f("fresh_kg_in", "number", "投入鲜果", "Fresh weight in", unit="kg"),
         _f("dried_kg_out", "number", "干果产出", "Dried weight out", required=True, unit="kg"),
         _f("moisture_pct", "number", "含水率", "Moisture", unit="%"),
     ]},
    {"stage": "testing", "name_zh": "检测", "name_en": "Testing", "order": 3, "free": True, "after": "harvest",
     "repeatable": True, "fields": TEST_FIELDS_GOJI},
    {"stage": "storage", "name_zh": "运储", "name_en": "Storage and transport", "order": 4, "free": True,
     "after": "harvest", "repeatable": True, "fields": [
         _f("place", "string", "仓储地点", "Place", required=True),
         _f("in_date", "date", "入库日期", "In on"),
         _f("out_date", "date", "出库日期", "Out on"),
         _f("conditions", "string", "储存条件", "Conditions"),
         _f("carrier", "string", "承运方", "Carrier"),
     ]},
    {"stage": "processing", "name_zh": "加工", "name_en": "Processing", "order": 5, "repeatable": True,
     "fields": [
         _f("product_form", "string", "产品形态", "Product form", required=True),
         _f("process", "string", "加工工艺", "Process"),
         _f("input_kg", "number", "投入数量（默认全部）", "Quantity used (default: all)", unit="kg"),
         # Outputs: [{"quantity_kg", "product_form", "producer_lot"}]; each becomes a processed batch.
         _f("outputs", "outputs", "产出批次", "Output batches", required=True),
     ]},
    {"stage": "distribution", "name_zh": "流通", "name_en": "Distribution", "order": 6, "repeatable": True,
     "quantity_field": "kg", "fields": [
         _f("recipient", "string", "收货方", "Recipient", required=True),
         _f("kg", "number", "数量", "Quantity", required=True, unit="kg"),
         _f("document_no", "string", "单据编号", "Waybill or invoice number"),
         _f("destination", "string", "目的地", "Destination"),
     ]},
]


# For a product a regulator added without its own template (e.g. 海原马铃薯): the same chain of
# custody without goji's drying stage and grain-count grading.
GENERIC_STAGES = [
    s if s["stage"] != "testing" else {**s, "fields": TEST_FIELDS_GENERIC}
    for s in GOJI_STAGES if s["stage"] != "drying"
]


def all_regions() -> list[Region]:
    """Every division as Region rows (city, counties, towns)."""
    rows = [Region(code=CITY[0], name_zh=CITY[1], name_en=CITY[2], level="city")]
    for code, name, name_en, towns in COUNTIES:
        rows.append(Region(code=code, name_zh=name, name_en=name_en, level="county", parent_code=CITY[0]))
        for suffix, town, town_en in towns:
            rows.append(Region(code=code + suffix, name_zh=town, name_en=town_en, level="town", parent_code=code))
    return rows


# Retail and wholesale packs of dried goji (kg): 100 g to a 20 kg carton. Editable on the product page.
GOJI_PACKAGE_SIZES_KG = (0.1, 0.125, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)


def ensure_reference_data(session: Session) -> None:
    """Insert the divisions and 中宁枸杞 where missing; never overwrite what a regulator changed."""
    existing = set(session.exec(select(Region.code)).all())
    for region in all_regions():
        if region.code not in existing:
            session.add(region)
    session.flush()
    if session.exec(select(Product).where(Product.slug == GOJI_SLUG)).first() is None:
        goji = Product(
            slug=GOJI_SLUG, name_zh="中宁枸杞", name_en="Zhongning goji",
            holder="中宁县枸杞产业发展服务中心",
            max_dried_yield_kg_per_mu=400.0, fresh_dried_ratio_min=3.5, fresh_dried_ratio_max=5.0,
            max_moisture_pct=13.0, season_start_mmdd="05-20", season_end_mmdd="10-31",
            target_share=0.6, stage_template=GOJI_STAGES, grade_scale=GOJI_GRADES,
            package_sizes_kg=list(GOJI_PACKAGE_SIZES_KG),
        )
        session.add(goji)
        session.flush()
        session.add(ProductRegistration(product_id=goji.id, kind="certification_mark",
                                        registration_no="", registered_on="2001"))
        session.add(ProductRegistration(product_id=goji.id, kind="agricultural_gi",
                                        registration_no="", registered_on="2017-01-10"))
        for town in GOJI_TOWNS:
            session.add(ProductTown(product_id=goji.id, town_code=town))
        session.add(demo_limits(goji.id))
        session.flush()


def demo_limits(product_id: int) -> ProductLimits:
    """The first (demo) version of 中宁枸杞's quality limits."""
    figures = dict(GOJI_DEMO_LIMITS)
    figures["effective_from"] = date.fromisoformat(figures["effective_from"])
    return ProductLimits(product_id=product_id, **figures)
