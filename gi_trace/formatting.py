"""One formatting layer for what people read: kilograms, numbers, percentages, dates and times, the
names of codes, and structured data as labelled fields — in Chinese or English.

Pages (as Jinja filters, see `register`), exports, stored scan pages and the annual report all print
through these functions, so one figure reads the same everywhere. The module sits below every area
(it imports nothing of the app): a caller that knows the language passes `locale` ("zh" or "en");
otherwise the request's language is used, and Chinese outside a request.

Rules kept here:
- kilograms show no trailing ".0" (3000.0 -> "3,000 公斤"), decimals only when the mass has them
  (to the gram);
- a share shown to one decimal is TRUNCATED, never rounded (0.5995 -> "59.9%"), so a share below a
  target is never displayed as meeting it (issue 15);
- dates and times are local (Asia/Shanghai) in Chinese form (2026年4月12日 08:00) or English form
  (12 Apr 2026 08:00), never ISO with a "T" and an offset;
- a code (stage, kind, status, category...) is shown by its label, never as the code.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Optional, Sequence

from gi_trace.timeutil import LOCAL_TZ

DASH = "—"
LOCALES = ("zh", "en")
KG_DIGITS = 3  # to the gram

_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def current_locale(locale: Optional[str] = None) -> str:
    """"zh" or "en": the one given, else the request's (or the app's default), else Chinese."""
    if locale:
        return "en" if str(locale).startswith("en") else "zh"
    try:
        from flask_babel import get_locale

        current = get_locale()
    except (RuntimeError, KeyError, AttributeError):  # outside an application
        current = None
    return "en" if current is not None and current.language == "en" else "zh"


def pick(zh: Optional[str], en: Optional[str], locale: Optional[str] = None) -> str:
    """The text in the current language, falling back to the other one."""
    if current_locale(locale) == "en":
        return en or zh or ""
    return zh or en or ""


def name(obj: Any, locale: Optional[str] = None) -> str:
    """A named record's (product, region, grade...) name in the current language: `name_zh`/`name_en`
    attributes or keys (a grade uses `grade`/`grade_en`)."""
    if obj is None:
        return DASH
    if isinstance(obj, Mapping):
        zh = obj.get("name_zh") or obj.get("grade") or obj.get("name")
        en = obj.get("name_en") or obj.get("grade_en")
    else:
        zh = getattr(obj, "name_zh", None) or getattr(obj, "name", None)
        en = getattr(obj, "name_en", None)
    return pick(zh, en, locale) or DASH


def grade(scale: Optional[Sequence[Mapping]], value: Any, locale: Optional[str] = None) -> str:
    """A grade (stored by its Chinese name, e.g. 特级) in the current language, from the product's scale."""
    if not value:
        return DASH
    for row in scale or ():
        if row.get("grade") == value:
            return pick(row.get("grade"), row.get("grade_en"), locale)
    return str(value)


# --- numbers ---------------------------------------------------------------------------------------

def _decimal(value: Any) -> Optional[Decimal]:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    return d


def number(value: Any, digits: Optional[int] = None, locale: Optional[str] = None, *, fixed: bool = False) -> str:
    """1234567.0 -> "1,234,567"; 12.5 -> "12.5": at most `digits` decimals (default 3, to the gram),
    rounded half up, no trailing zeros unless `fixed`."""
    d = _decimal(value)
    if d is None:
        return DASH if value is None or value == "" else str(value)
    digits = KG_DIGITS if digits is None else max(0, int(digits))
    d = d.quantize(Decimal(1).scaleb(-digits), rounding="ROUND_HALF_UP")
    text = f"{d:,.{digits}f}"
    if digits and not fixed:
        text = text.rstrip("0").rstrip(".")
    if re.fullmatch(r"-0(\.0*)?", text):
        text = text[1:]
    return text


def integer(value: Any, locale: Optional[str] = None) -> str:
    """A count: 12345 -> "12,345"."""
    return number(value, 0, locale)


def kg(value: Any, locale: Optional[str] = None, *, unit: bool = True) -> str:
    """A mass: 3000.0 -> "3,000 公斤" / "3,000 kg"; 12.345 -> "12.345 公斤"."""
    text = number(value, None, locale)
    if text == DASH or not unit:
        return text
    return text + (" kg" if current_locale(locale) == "en" else " 公斤")


def truncate(value: Any, digits: int = 1) -> Optional[Decimal]:
    """`value` cut (toward zero) to `digits` decimals, computed in decimal so 59.95 stays 59.95."""
    d = _decimal(value)
    if d is None:
        return None
    return d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_DOWN)


def percent(value: Any, digits: int = 1, locale: Optional[str] = None) -> str:
    """A share (0..1) as a percentage cut, not rounded: 0.5995 -> "59.9%", 0.6 -> "60.0%"."""
    d = _decimal(value)
    if d is None:
        return DASH
    cut = truncate(d * 100, digits)
    text = f"{cut:,.{digits}f}%"
    return text[1:] if text.startswith("-") and truncate(d * 100, digits) == 0 else text


def points(value: Any, digits: int = 1, locale: Optional[str] = None) -> str:
    """A difference of two shares in percentage points, cut: 0.0215 -> "2.1个百分点" / "2.1 points"."""
    d = _decimal(value)
    if d is None:
        return DASH
    cut = truncate(d * 100, digits)
    if cut == 0:
        cut = abs(cut)
    text = f"{cut:,.{digits}f}"
    return text + (" percentage points" if current_locale(locale) == "en" else "个百分点")


def meets(value: Any, target: Any, digits: int = 1) -> bool:
    """Whether a share meets a target as shown: compared exactly, never after rounding up."""
    v, t = _decimal(value), _decimal(target)
    return v is not None and t is not None and v >= t


# --- dates and times ------------------------------------------------------------------------------

def _as_date_or_datetime(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DATE.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                return value
        if _ISO_DATETIME.match(text):
            try:
                return datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return value
    return value


def local(value: datetime) -> datetime:
    """An instant in Zhongwei's time (a naive value is taken as UTC, as the database stores it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(LOCAL_TZ)


def day(value: Any, locale: Optional[str] = None) -> str:
    """2026-04-12 -> "2026年4月12日" / "12 Apr 2026" (an instant: its local date)."""
    value = _as_date_or_datetime(value)
    if value is None or value == "":
        return DASH
    if isinstance(value, datetime):
        value = local(value).date()
    if not isinstance(value, date):
        return str(value)
    if current_locale(locale) == "en":
        return f"{value.day} {_EN_MONTHS[value.month - 1]} {value.year}"
    return f"{value.year}年{value.month}月{value.day}日"


def month(value: Any, locale: Optional[str] = None) -> str:
    """2026-04 -> "2026年4月" / "Apr 2026"."""
    value = _as_date_or_datetime(value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value.strip()):
        y, m = value.strip().split("-")
        value = date(int(y), int(m), 1)
    if isinstance(value, datetime):
        value = local(value).date()
    if not isinstance(value, date):
        return DASH if value in (None, "") else str(value)
    if current_locale(locale) == "en":
        return f"{_EN_MONTHS[value.month - 1]} {value.year}"
    return f"{value.year}年{value.month}月"


def moment(value: Any, locale: Optional[str] = None, *, seconds: bool = False) -> str:
    """An instant in local time: "2026年4月12日 08:00" / "12 Apr 2026 08:00"; a plain date as `day`."""
    value = _as_date_or_datetime(value)
    if value is None or value == "":
        return DASH
    if not isinstance(value, datetime):
        return day(value, locale) if isinstance(value, date) else str(value)
    value = local(value)
    clock = value.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{day(value.date(), locale)} {clock}"


def when(value: Any, locale: Optional[str] = None) -> str:
    """A date or an instant, whichever it is (for values that may be either)."""
    value = _as_date_or_datetime(value)
    return moment(value, locale) if isinstance(value, datetime) else day(value, locale)


def days(value: Any, locale: Optional[str] = None) -> str:
    """A number of days: 3 -> "3天" / "3 days"."""
    d = _decimal(value)
    if d is None:
        return DASH
    text = number(d, None, locale)
    if current_locale(locale) == "en":
        return f"{text} day" if d == 1 else f"{text} days"
    return f"{text}天"


def yes_no(value: Any, locale: Optional[str] = None) -> str:
    if value is None:
        return DASH
    return pick("是" if value else "否", "yes" if value else "no", locale)


# --- the names of codes -------------------------------------------------------------------------
# Both languages as data (like the stage template's name_zh/name_en): exports, stored pages and the
# report print them without a request.

CODE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    # tracing
    "batch_kind": {"harvest": ("采摘批次", "Harvest batch"), "lot": ("分装批次", "Lot"),
                   "merged": ("合并批次", "Merged batch"), "processed": ("加工批次", "Processed batch"),
                   "received": ("收货批次", "Received batch"), "purchased": ("收购批次", "Purchased batch")},
    "link_kind": {"split": ("拆分", "Split"), "merge": ("合并", "Merge"), "transform": ("加工", "Processing"),
                  "transfer": ("交接", "Hand-over")},
    "system_stage": {"split": ("拆分为多个批次", "Split into lots"), "merge": ("合并", "Merged"),
                     "withdrawal": ("撤回", "Withdrawn"), "recall": ("召回", "Recalled")},
    "test_state": {"untested": ("未检测", "Not tested"), "passed": ("检测合格", "Passed"),
                   "failed": ("检测不合格", "Failed"), "ungraded": ("等外（低于最低等级）", "Below the lowest grade"),
                   "cleared": ("复检合格", "Passed after a re-test")},
    "plausibility_kind": {"yield_over_cap": ("产量超出上限", "Yield above the cap"),
                          "drying_ratio": ("鲜干比异常", "Unusual fresh-to-dried ratio"),
                          "out_of_season": ("采摘季节外", "Outside the season"),
                          "labels_over_quantity": ("标签数超出数量", "More labels than the quantity"),
                          "inside_safety_interval": ("安全间隔期内采摘", "Picked inside a safety interval"),
                          "marked_over_supply": ("地理标志用量超出可溯来源", "GI mark beyond traced sources"),
                          "declared_purchase_large": ("收购量超出农户产能", "Purchase beyond a household's output")},
    "plausibility_status": {"open": ("待核查", "Open"), "cleared": ("已排除", "Cleared"),
                            "confirmed": ("已确认", "Confirmed")},
    "direction": {"upstream": ("上游（来源）", "Upstream (sources)"),
                  "downstream": ("下游（去向）", "Downstream (destinations)"),
                  "self": ("本批次", "This batch")},
    "verdict": {"pass": ("合格", "Pass"), "fail": ("不合格", "Fail")},
    "input_kind": {"pesticide": ("用药", "Pesticide"), "fertiliser": ("施肥", "Fertiliser"),
                   "other": ("其他投入品", "Other input")},
    # register
    "producer_kind": {"enterprise": ("企业", "Enterprise"), "cooperative": ("合作社", "Cooperative"),
                      "family_farm": ("家庭农场", "Family farm"), "household": ("农户", "Household"),
                      "trader": ("经销商", "Trader"), "processor": ("加工企业", "Processor"),
                      "market": ("市场开办者", "Market operator"), "retailer": ("零售商", "Retailer")},
    "product_kind": {"certification_mark": ("证明商标", "Certification mark"),
                     "gi_protected_product": ("地理标志保护产品", "GI-protected product"),
                     "agricultural_gi": ("农产品地理标志", "Agricultural GI"),
                     "collective_mark": ("集体商标", "Collective mark")},
    "region_level": {"city": ("市", "City"), "county": ("县（区）", "County"), "town": ("乡镇", "Town")},
    "role": {"admin": ("管理员", "Administrator"), "regulator": ("监管人员", "Regulator"),
             "producer": ("生产者", "Producer")},
    # authorisation
    "authorisation_state": {"none": ("未申请", "Not applied"), "pending": ("待审核", "Pending"),
                            "authorised": ("已核准", "Authorised"), "rejected": ("未予核准", "Rejected"),
                            "suspended": ("暂停使用", "Suspended"), "revoked": ("已撤销", "Revoked"),
                            "expired": ("已过期", "Expired")},
    "authorisation_action": {"apply": ("申请", "Applied"), "approve": ("核准", "Approved"),
                             "reject": ("不予核准", "Rejected"), "suspend": ("暂停", "Suspended"),
                             "reinstate": ("恢复", "Reinstated"), "revoke": ("撤销", "Revoked")},
    # oversight
    "complaint_category": {"counterfeit": ("假冒或克隆标签", "Counterfeit or cloned label"),
                           "origin": ("产地存疑", "Doubtful origin"), "quality": ("质量问题", "Quality problem"),
                           "labelling": ("标签信息错误或缺失", "Wrong or missing label information"),
                           "other": ("其他", "Other")},
    "complaint_status": {"new": ("待处理", "New"), "investigating": ("调查中", "Investigating"),
                         "closed": ("已办结", "Closed")},
    "complaint_source": {"scan": ("扫码举报", "From a scan"), "staff": ("工作人员录入", "Entered by staff")},
    "inspection_result": {"pass": ("合格", "Pass"), "fail": ("不合格", "Fail")},
    # scan
    "code_kind": {"batch": ("批次码", "Batch code"), "unit": ("单件码", "Unit code")},
    "counterfeit_reason": {"scans": ("扫码次数异常", "Unusual number of scans"),
                           "networks": ("扫码网络分散", "Scanned from many networks")},
    "counterfeit_status": {"open": ("待核查", "Open"), "dismissed": ("已排除", "Dismissed"),
                           "confirmed": ("已确认", "Confirmed")},
    "product_form": {"fresh": ("鲜果", "Fresh"), "dried": ("干果", "Dried"), "powder": ("粉", "Powder"),
                     "juice": ("原浆", "Juice"), "wine": ("酒", "Wine"), "other": ("其他", "Other")},
    "drying_method": {"sun": ("自然晾晒", "Sun drying"), "hot_air": ("热风烘干", "Hot-air drying")},
}


def label(domain: str, code: Any, locale: Optional[str] = None) -> str:
    """The name of a code in the current language; an unknown code shows as itself, a missing one as —."""
    if code is None or code == "":
        return DASH
    table = CODE_LABELS.get(domain, {})
    pair = table.get(str(code))
    if pair is None:
        return str(code)
    return pick(pair[0], pair[1], locale)


def stage(template: Optional[Sequence[Mapping]], code: Any, locale: Optional[str] = None) -> str:
    """A stage's name from the product's stage template (or a system stage such as a split)."""
    if not code:
        return DASH
    for spec in template or ():
        if spec.get("stage") == code:
            return pick(spec.get("name_zh"), spec.get("name_en"), locale) or str(code)
    if code in CODE_LABELS["system_stage"]:
        return label("system_stage", code, locale)
    return str(code)


# --- structured data as labelled fields -------------------------------------------------------------

# Fields whose values are codes of a CODE_LABELS domain, whatever type the stage template gives them (a
# processing event's product form is a "string" field holding "dried", "juice"...).
CODED_FIELDS = {"product_form": "product_form"}

_FIELD_WORDS = {
    "name": ("名称", "Name"), "applied_on": ("施用日期", "Applied on"),
    "safety_interval_days": ("安全间隔期", "Safety interval"), "amount": ("用量", "Amount"),
    "quantity_kg": ("数量", "Quantity"), "product_form": ("产品形态", "Product form"),
    "producer_lot": ("企业批号", "Producer's lot"),
}


def field_label(spec: Mapping, locale: Optional[str] = None) -> str:
    """A stage-template field's label in the current language."""
    return pick(spec.get("label_zh"), spec.get("label_en"), locale) or str(spec.get("name", ""))


def _list_item(item: Any, locale: Optional[str]) -> str:
    if not isinstance(item, Mapping):
        return value_text(item, locale=locale)
    form_is_head = not item.get("name") and bool(item.get("product_form"))
    head = item.get("name") or (label("product_form", item["product_form"], locale) if form_is_head else "")
    parts = []
    for key, val in item.items():
        if key == "name" or (key == "product_form" and form_is_head) or val in (None, "", []):
            continue
        words = _FIELD_WORDS.get(key)
        key_label = pick(words[0], words[1], locale) if words else key.replace("_", " ")
        if key.endswith("_kg"):
            text = kg(val, locale)
        elif key.endswith("_days"):
            text = days(val, locale)
        else:
            text = value_text(val, {"name": key}, locale)
        parts.append(f"{key_label}{'：' if current_locale(locale) == 'zh' else ': '}{text}")
    sep = "，" if current_locale(locale) == "zh" else ", "
    if not parts:
        return str(head)
    if not head:
        return sep.join(parts)
    return f"{head}（{sep.join(parts)}）" if current_locale(locale) == "zh" else f"{head} ({sep.join(parts)})"


def residues_text(residues: list, locale: Optional[str] = None) -> str:
    """Measured residues, e.g. "吡虫啉 0.05 mg/kg；啶虫脒 0.1 mg/kg", or "none found" for an empty list."""
    items = [f"{r.get('substance', '')} {number(r.get('mg_per_kg'), None, locale)} mg/kg"
             for r in residues if isinstance(r, Mapping)]
    if not items:
        return pick("未检出", "none found", locale)
    return ("；" if current_locale(locale) == "zh" else "; ").join(items)


def value_text(value: Any, spec: Optional[Mapping] = None, locale: Optional[str] = None) -> str:
    """One value as people read it, by its template field type (number with unit, date, choice...)."""
    spec = spec or {}
    kind = spec.get("type")
    if value is None or value == "":
        return DASH
    if spec.get("name") in CODED_FIELDS and isinstance(value, str):
        return label(CODED_FIELDS[spec["name"]], value, locale)
    if kind == "boolean" or isinstance(value, bool):
        return yes_no(bool(value), locale)
    if kind == "residues" and isinstance(value, list):
        return residues_text(value, locale)
    if kind == "choice":
        for choice in spec.get("choices") or []:
            if choice.get("value") == value:
                return pick(choice.get("label_zh"), choice.get("label_en"), locale) or str(value)
        return str(value)
    if kind in ("number", "integer") or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        unit = spec.get("unit")
        if unit == "kg":
            return kg(value, locale)
        text = number(value, None, locale)
        if unit == "%":
            return text + "%"
        return f"{text} {unit}" if unit else text
    if kind == "date" or kind == "datetime" or (isinstance(value, str) and (
            _ISO_DATE.match(value.strip()) or _ISO_DATETIME.match(value.strip()))):
        return when(value, locale)
    if isinstance(value, (list, tuple)):
        sep = "；" if current_locale(locale) == "zh" else "; "
        return sep.join(_list_item(item, locale) for item in value if item not in (None, "", {})) or DASH
    if isinstance(value, Mapping):
        return _list_item(value, locale)
    return str(value)


def fields(data: Any, field_specs: Iterable[Mapping] = (), locale: Optional[str] = None, *,
           skip: Iterable[str] = (), extra_labels: Optional[Mapping[str, tuple[str, str]]] = None
           ) -> list[tuple[str, str]]:
    """(label, text) pairs of a record's data: the template's fields in order, then any other keys
    labelled from `extra_labels` (keys without a label are left out rather than shown raw)."""
    if not isinstance(data, Mapping) or not data:
        return []
    skip = set(skip)
    out: list[tuple[str, str]] = []
    seen = set()
    for spec in field_specs or ():
        key = spec.get("name")
        seen.add(key)
        if key in skip or spec.get("type") == "plot":
            continue
        value = data.get(key)
        if value is None or value == "" or (value == [] and spec.get("type") != "residues"):
            continue
        out.append((field_label(spec, locale), value_text(value, spec, locale)))
    for key, value in data.items():
        if key in seen or key in skip or value is None or value == "" or value == []:
            continue
        words = (extra_labels or {}).get(key) or _FIELD_WORDS.get(key)
        if words is None:
            continue
        out.append((pick(words[0], words[1], locale), value_text(value, {"name": key}, locale)))
    return out


SCAN_CONTEXT_LABELS = {
    "kind": ("码的类型", "Kind of code"), "scans": ("扫码次数", "Scans"),
    "networks": ("扫码网络数", "Networks scanned from"), "first_scanned_at": ("首次扫码", "First scanned"),
    "counterfeit_flag": ("已有假冒预警", "Counterfeit alert raised"),
    "reporter_scanned_it": ("举报人曾扫此码", "The reporter scanned this code"),
}


def scan_context(context: Any, locale: Optional[str] = None) -> list[tuple[str, str]]:
    """A complaint's scan context as labelled fields (network hashes and the page name stay out)."""
    if not isinstance(context, Mapping):
        return []
    data = dict(context)
    if data.get("kind") in CODE_LABELS["code_kind"]:
        data["kind"] = label("code_kind", data["kind"], locale)
    return fields(data, (), locale, extra_labels=SCAN_CONTEXT_LABELS)


# --- Jinja ------------------------------------------------------------------------------------------

def colon(text: Any, locale: Optional[str] = None) -> str:
    """A label followed by its colon: "理由：" / "Reason: " (Chinese takes the full-width colon, no space)."""
    return f"{text}{'：' if current_locale(locale) == 'zh' else ': '}"


def paren(text: Any, locale: Optional[str] = None) -> str:
    """A note in brackets after what it qualifies: "（接收 10 公斤）" / " (received 10 kg)" (Chinese takes the
    full-width brackets, no space before them)."""
    return f"（{text}）" if current_locale(locale) == "zh" else f" ({text})"


def register(app) -> None:
    """The filters templates use: `|kg`, `|pct`, `|num`, `|day`, `|moment`, `|label('domain')`..."""
    f = app.jinja_env.filters
    f["kg"] = kg
    f["num"] = lambda value, digits=None: number(value, digits)
    f["int"] = integer
    f["pct"] = percent
    f["points"] = points
    f["day"] = day
    f["month"] = month
    f["moment"] = moment
    f["when"] = when
    f["d"] = when  # the older name: a date or an instant
    f["days"] = days
    f["yesno"] = yes_no
    f["label"] = lambda code, domain: label(domain, code)
    f["stage"] = lambda code, template=None: stage(template, code)
    f["name"] = name
    f["grade"] = lambda value, scale=None: grade(scale, value)
    f["value"] = value_text
    f["colon"] = colon
    f["paren"] = paren
    app.jinja_env.globals["fmt_fields"] = fields
    app.jinja_env.globals["fmt_scan_context"] = scan_context
