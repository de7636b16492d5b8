"""Reference data loaded into every database: Zhongwei's divisions and 中宁枸杞.

Source: ../shared/domain.md (statistical codes of 中卫市 640500 and its counties and towns).
"""
from __future__ import annotations

from sqlmodel import Session, select

from gi_trace.registry.models import Product, ProductRegistration, ProductTown, Region

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

# Stage template: order and the fields each stage records (the tracing area validates against it).
GOJI_STAGES = [
    {"stage": "planting", "name_zh": "种植", "name_en": "Planting"},
    {"stage": "harvest", "name_zh": "采摘", "name_en": "Harvest"},
    {"stage": "drying", "name_zh": "制干", "name_en": "Drying"},
    {"stage": "testing", "name_zh": "检测", "name_en": "Testing"},
    {"stage": "storage", "name_zh": "运储", "name_en": "Storage and transport"},
    {"stage": "processing", "name_zh": "加工", "name_en": "Processing"},
    {"stage": "distribution", "name_zh": "流通", "name_en": "Distribution"},
]


def all_regions() -> list[Region]:
    """Every division as Region rows (city, counties, towns)."""
    rows = [Region(code=CITY[0], name_zh=CITY[1], name_en=CITY[2], level="city")]
    for code, name, name_en, towns in COUNTIES:
        rows.append(Region(code=code, name_zh=name, name_en=name_en, level="county", parent_code=CITY[0]))
        for suffix, town, town_en in towns:
            rows.append(Region(code=code + suffix, name_zh=town, name_en=town_en, level="town", parent_code=code))
    return rows


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
        )
        session.add(goji)
        session.flush()
        session.add(ProductRegistration(product_id=goji.id, kind="certification_mark",
                                        registration_no="", registered_on="2001"))
        session.add(ProductRegistration(product_id=goji.id, kind="agricultural_gi",
                                        registration_no="", registered_on="2017-01-10"))
        for town in GOJI_TOWNS:
            session.add(ProductTown(product_id=goji.id, town_code=town))
        session.flush()
