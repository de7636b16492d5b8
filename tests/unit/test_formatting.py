"""The one formatting layer: what people read, in Chinese and English."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from gi_trace import formatting as fmt


@pytest.mark.parametrize("value,zh,en", [
    (3000.0, "3,000 公斤", "3,000 kg"),
    (55.0, "55 公斤", "55 kg"),
    (12.345, "12.345 公斤", "12.345 kg"),
    (0.1 + 0.2, "0.3 公斤", "0.3 kg"),
    (1234567.5, "1,234,567.5 公斤", "1,234,567.5 kg"),
    (None, "—", "—"),
])
def test_kilograms_show_no_trailing_zero(value, zh, en):
    assert fmt.kg(value, "zh") == zh
    assert fmt.kg(value, "en") == en


@pytest.mark.parametrize("share,shown", [
    (0.5995, "59.9%"), (0.59999999, "59.9%"), (0.6, "60.0%"), (170 / 334, "50.8%"), (0.0, "0.0%"),
    (1, "100.0%"), (-0.0004, "0.0%"), (None, "—"),
])
def test_percentages_are_truncated_not_rounded(share, shown):
    assert fmt.percent(share) == shown


def test_a_share_just_below_the_target_never_reads_as_the_target():
    assert fmt.percent(0.5999) != fmt.percent(0.6)
    assert not fmt.meets(0.5999, 0.6) and fmt.meets(0.6, 0.6)


def test_points_are_truncated():
    assert fmt.points(0.0219, locale="zh") == "2.1个百分点"
    assert fmt.points(0.0219, locale="en") == "2.1 percentage points"


def test_numbers_keep_decimals_only_when_needed():
    assert fmt.number(3000.0) == "3,000"
    assert fmt.number(12.0, 1) == "12"
    assert fmt.number(12.25, 1) == "12.3"
    assert fmt.number(12.2, 2, fixed=True) == "12.20"
    assert fmt.integer(12345) == "12,345"


def test_dates_and_times_in_local_chinese_and_english_form():
    instant = datetime(2026, 4, 12, 0, 0, tzinfo=timezone.utc)  # 08:00 in Zhongwei
    assert fmt.moment(instant, "zh") == "2026年4月12日 08:00"
    assert fmt.moment(instant, "en") == "12 Apr 2026 08:00"
    assert fmt.day(date(2026, 4, 12), "zh") == "2026年4月12日"
    assert fmt.day("2026-04-12", "en") == "12 Apr 2026"
    assert fmt.moment("2026-04-12T08:00+08:00", "zh") == "2026年4月12日 08:00"
    # late evening UTC is the next day in Zhongwei
    assert fmt.day(datetime(2026, 4, 11, 20, 0, tzinfo=timezone.utc), "zh") == "2026年4月12日"
    assert fmt.month("2026-04", "zh") == "2026年4月"
    assert fmt.days(0, "zh") == "0天" and fmt.days(1, "en") == "1 day"


def test_codes_show_their_labels_in_both_languages():
    assert fmt.label("complaint_status", "investigating", "zh") == "调查中"
    assert fmt.label("complaint_status", "investigating", "en") == "Investigating"
    assert fmt.label("batch_kind", "lot", "zh") == "分装批次"
    assert fmt.label("direction", "upstream", "zh") == "上游（来源）"
    assert fmt.label("complaint_status", None) == "—"
    template = [{"stage": "drying", "name_zh": "制干", "name_en": "Drying"}]
    assert fmt.stage(template, "drying", "zh") == "制干"
    assert fmt.stage(template, "drying", "en") == "Drying"
    assert fmt.stage(template, "split", "zh") == "拆分为多个批次"


def test_names_of_records_follow_the_language():
    goji = {"name_zh": "中宁枸杞", "name_en": "Zhongning goji"}
    assert fmt.name(goji, "zh") == "中宁枸杞" and fmt.name(goji, "en") == "Zhongning goji"
    assert fmt.name({"grade": "特优", "grade_en": "Premium"}, "en") == "Premium"
    assert fmt.name({"name_zh": "宁安镇", "name_en": ""}, "en") == "宁安镇"


def test_structured_data_becomes_labelled_fields():
    specs = [
        {"name": "cultivar", "type": "string", "label_zh": "品种", "label_en": "Cultivar"},
        {"name": "inputs", "type": "inputs", "label_zh": "投入品", "label_en": "Inputs"},
        {"name": "fresh_kg", "type": "number", "unit": "kg", "label_zh": "鲜果重量", "label_en": "Fresh weight"},
        {"name": "method", "type": "choice", "label_zh": "方式", "label_en": "Method",
         "choices": [{"value": "sun", "label_zh": "自然晾晒", "label_en": "Sun drying"}]},
        {"name": "started_at", "type": "datetime", "label_zh": "开始时间", "label_en": "Started"},
    ]
    data = {"cultivar": "宁杞7号", "fresh_kg": 3000.0, "method": "sun", "started_at": "2026-04-12T08:00+08:00",
            "inputs": [{"name": "有机肥", "applied_on": "2026-04-12", "safety_interval_days": 0}],
            "op_id": "x-123"}
    zh = fmt.fields(data, specs, "zh")
    assert zh == [("品种", "宁杞7号"), ("投入品", "有机肥（施用日期：2026年4月12日，安全间隔期：0天）"),
                  ("鲜果重量", "3,000 公斤"), ("方式", "自然晾晒"), ("开始时间", "2026年4月12日 08:00")]
    en = dict(fmt.fields(data, specs, "en"))
    assert en["Inputs"] == "有机肥 (Applied on: 12 Apr 2026, Safety interval: 0 days)"
    text = " ".join(v for pair in zh for v in pair) + " ".join(en.values())
    for raw in ("{", "applied_on", "T08:00", "3000.0", "op_id"):
        assert raw not in text


def test_filters_follow_the_request_language(app):
    with app.test_request_context("/?lang=en"):
        out = app.jinja_env.from_string("{{ 3000.0|kg }} {{ 0.5995|pct }} {{ 'closed'|label('complaint_status') }}"
                                        " {{ d|day }}").render(d=date(2026, 1, 15))
        assert out == "3,000 kg 59.9% Closed 15 Jan 2026"
    with app.test_request_context("/"):
        out = app.jinja_env.from_string("{{ 3000.0|kg }} {{ d|day }}").render(d=date(2026, 1, 15))
        assert out == "3,000 公斤 2026年1月15日"


def test_grades_follow_the_language():
    scale = [{"grade": "特级", "grade_en": "Special", "max_grains_per_50g": 370}]
    assert fmt.grade(scale, "特级", "en") == "Special" and fmt.grade(scale, "特级", "zh") == "特级"
    assert fmt.grade(scale, None, "en") == "—"
