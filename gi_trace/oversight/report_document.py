"""The annual report as a government document: cover block, sections 一 to 五 with generated sentences,
annexes; HTML print view, PDF, JSON and the data tables; draft and issued versions.

The PDF is made by WeasyPrint from the same HTML: the text stays vector text and the CJK font (Noto,
an OpenType/CFF font that WeasyPrint subsets and embeds as it is) is embedded, so the file prints and
searches the same everywhere. Issuing a version stores its figures, HTML and PDF in both languages with
their SHA-256; an issued version is served from what was stored and never changes. Generating again
makes a new draft.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional

from flask import current_app, has_app_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace import formatting as fmt
from gi_trace.accounts.models import User
from gi_trace.authorisation import rules
from gi_trace.authorisation.services import reason_code_label
from gi_trace.errors import Conflict, Forbidden, NotFound, ValidationError
from gi_trace.oversight import compliance as c
from gi_trace.oversight import report as rep
from gi_trace.oversight import svg
from gi_trace.oversight.models import AnnualReport
from gi_trace.registry.models import Product, Region
from gi_trace.tracing import codes
from gi_trace.types import utcnow

DEFAULT_AUTHORITY = "中卫市市场监督管理局（知识产权局）"
LANGS = ("zh", "en")
MAX_PROBLEMS = 20000


@dataclass
class Cover:
    """What the cover block prints besides the title."""

    authority: str
    document_no: str = ""
    dated: Optional[date] = None
    status: str = "draft"  # draft | issued
    version: int = 0


def default_authority() -> str:
    """The issuing authority (setting REPORT_AUTHORITY), by default the city's market regulator."""
    if has_app_context():
        return current_app.config.get("REPORT_AUTHORITY") or DEFAULT_AUTHORITY
    return DEFAULT_AUTHORITY


def title(report: dict, lang: str) -> str:
    area = report.get("county_name")
    if lang == "en":
        where = f" ({area})" if area else ""
        return f"Annual GI supervision report {report['year']}: {report['product_name_en'] or report['product_name']}{where}"
    where = area or "中卫市"
    return f"{where}{report['year']}年度{report['product_name']}地理标志保护监管年度报告"


# --- generated sentences ------------------------------------------------------------------------------

def _shown_points(now: Optional[float], before: Optional[float]) -> Optional[float]:
    """now − before as a fraction, from the figures as printed (truncated to one decimal of a percent)."""
    if now is None or before is None:
        return None
    return float(fmt.truncate(now * 100, 1) - fmt.truncate(before * 100, 1)) / 100


def _change(now: Optional[float], before: Optional[float], lang: str) -> str:
    delta = _shown_points(now, before)
    if delta is None:
        return "" if lang == "en" else ""
    if lang == "en":
        if delta == 0:
            return ", unchanged from last year"
        return f", {'up' if delta > 0 else 'down'} {fmt.points(abs(delta), locale='en')} on last year"
    if delta == 0:
        return "，与上年持平"
    return f"，较上年{'提高' if delta > 0 else '下降'}{fmt.points(abs(delta), locale='zh')}"


def _gap(value: Optional[float], target: float, lang: str) -> str:
    if value is None:
        return ""
    if fmt.meets(value, target):
        return (f", meeting the {fmt.percent(target, locale='en')} target" if lang == "en"
                else f"，已达到{fmt.percent(target, locale='zh')}的目标")
    gap = float(fmt.truncate(target * 100, 1) - fmt.truncate(value * 100, 1)) / 100
    return (f", {fmt.points(gap, locale='en')} short of the {fmt.percent(target, locale='en')} target"
            if lang == "en" else f"，距{fmt.percent(target, locale='zh')}目标差{fmt.points(gap, locale='zh')}")


def _denominator(src: dict, what: str, lang: str) -> str:
    if src["kind"] == c.OFFICIAL:
        scope = {"zh": {"protected_area": "保护范围内", "whole_sector": "全行业"},
                 "en": {"protected_area": "protected area", "whole_sector": "whole sector"}}[lang].get(src["scope"], "")
        return (f"the {what} is the official total ({src['source']}, {scope})" if lang == "en"
                else f"{what}采用官方统计数（{src['source']}，{scope}口径）")
    return (f"the {what} is the register's count (producers in the protected towns)" if lang == "en"
            else f"{what}为系统登记数（保护范围内乡镇的生产者）")


def overview(report: dict, lang: str) -> list[str]:
    """一、总体情况: the two shares at year end and in the year, against last year and the target, and
    every county."""
    comp = report["summary"]["compliance"]
    prev = report["summary"]["previous"] or {}
    target = comp["target"]
    as_of = fmt.day(comp["as_of"], locale=lang)
    name = report["product_name"] if lang == "zh" else (report["product_name_en"] or report["product_name"])
    area = report.get("county_name") or ("全市" if lang == "zh" else "the city")
    n_users, n_total = fmt.integer(comp["producers_authorised"]), fmt.integer(comp["producers_total"])
    value_auth = fmt.number(comp["output_value_authorised"] / 10000, 1)
    out = []
    if lang == "en":
        out.append(f"As of {as_of}, {area} had {n_users} authorised users of the {name} GI special mark, "
                   f"{fmt.percent(comp['user_share'], locale='en')} of the {n_total} producers of the region"
                   f"{_change(comp['user_share'], prev.get('user_share'), 'en')}"
                   f"{_gap(comp['user_share'], target, 'en')}. Their output value in {report['year']} was "
                   f"{value_auth} × 10,000 yuan, {fmt.percent(comp['output_share'], locale='en')} of the sector's"
                   f"{_change(comp['output_share'], prev.get('output_share'), 'en')}"
                   f"{_gap(comp['output_share'], target, 'en')}.")
        out.append(f"Counting every user authorised at any time in the year, there were "
                   f"{fmt.integer(comp['producers_authorised_in_year'])} users "
                   f"({fmt.percent(comp['user_share_in_year'], locale='en')}) and their output value was "
                   f"{fmt.percent(comp['output_share_in_year'], locale='en')} of the sector's.")
        src = comp["denominator_source"]
        if src["producers"] == src["output_value"]:
            out.append(f"Denominators: {_denominator(src['producers'], 'number of producers and output value', 'en')}.")
        else:
            out.append(f"Denominators: {_denominator(src['producers'], 'number of producers', 'en')}"
                       f"; {_denominator(src['output_value'], 'output value', 'en')}.")
    else:
        out.append(f"截至{as_of}，{area}{name}地理标志专用标志核准使用者{n_users}家，占区域内生产者总数"
                   f"（{n_total}家）的{fmt.percent(comp['user_share'], locale='zh')}"
                   f"{_change(comp['user_share'], prev.get('user_share'), 'zh')}{_gap(comp['user_share'], target, 'zh')}；"
                   f"核准使用者{report['year']}年产值{value_auth}万元，占区域内相关产业产值的"
                   f"{fmt.percent(comp['output_share'], locale='zh')}"
                   f"{_change(comp['output_share'], prev.get('output_share'), 'zh')}{_gap(comp['output_share'], target, 'zh')}。")
        out.append(f"按年内任一时间获准使用计（年内曾获准使用者），使用者{fmt.integer(comp['producers_authorised_in_year'])}家，"
                   f"占生产者总数的{fmt.percent(comp['user_share_in_year'], locale='zh')}，其产值占区域内相关产业产值的"
                   f"{fmt.percent(comp['output_share_in_year'], locale='zh')}。")
        src = comp["denominator_source"]
        if src["producers"] == src["output_value"]:
            out.append(f"统计口径：{_denominator(src['producers'], '生产者总数和产业产值均', 'zh')}。")
        else:
            out.append(f"统计口径：{_denominator(src['producers'], '生产者总数', 'zh')}；"
                       f"{_denominator(src['output_value'], '产业产值', 'zh')}。")
    last_rows = {row["county_code"]: row for row in (report["counties"]["last"] or {}).get("rows", [])}
    parts = []
    for row in report["counties"]["this"]["rows"]:
        before = last_rows.get(row["county_code"], {})
        county = row["county_name"] if lang == "zh" else report["region_names_en"].get(row["county_code"],
                                                                                          row["county_name"])
        if not row["protected_towns"] and not row["producers_registered"]:
            parts.append(f"{county}: no town in the protected area, no producer counted" if lang == "en"
                         else f"{county}无保护范围内乡镇，不计生产者")
        elif lang == "en":
            parts.append(f"{county}: {fmt.integer(row['producers_authorised'])} users, "
                         f"{fmt.percent(row['user_share'], locale='en')} of producers"
                         f"{_change(row['user_share'], before.get('user_share'), 'en')}; output share "
                         f"{fmt.percent(row['output_share'], locale='en')}")
        else:
            parts.append(f"{county}核准使用者{fmt.integer(row['producers_authorised'])}家，使用者占比"
                         f"{fmt.percent(row['user_share'], locale='zh')}{_change(row['user_share'], before.get('user_share'), 'zh')}，"
                         f"产值占比{fmt.percent(row['output_share'], locale='zh')}")
    out.append(("By county: " + "; ".join(parts) + ".") if lang == "en" else ("分县（区）看：" + "；".join(parts) + "。"))
    return out


def management_text(report: dict, lang: str) -> list[str]:
    m = report["management"]["movements"]
    this, last = m["this"]["totals"], m["last"]["totals"]
    dormant = report["management"]["dormant"]["count"]
    uses = report["management"]["use_reports"]
    if lang == "en":
        return [f"In {report['year']}: {this['applications']} applications, {this['approvals']} approvals "
                f"({this['new_users']} new users, {this['renewals']} renewals), {this['rejections']} rejections, {this['suspensions']} suspensions, "
                f"{this['reinstatements']} reinstatements, {this['revocations']} revocations and {this['expiries']} "
                f"expiries (last year: {last['approvals']} approvals, {last['suspensions']} suspensions, "
                f"{last['revocations']} revocations).",
                f"{fmt.integer(dormant)} authorised users recorded no batch and issued no label in the year (possible "
                f"non-use; two consecutive years of non-use is a ground for revocation).",
                f"{uses['received']} of {uses['users']} users have confirmed their annual use report."]
    return [f"{report['year']}年受理申请{this['applications']}件，核准{this['approvals']}件（其中新增使用者{this['new_users']}家、"
            f"续期{this['renewals']}家），"
            f"不予核准{this['rejections']}件，暂停使用{this['suspensions']}家次，恢复使用{this['reinstatements']}家次，"
            f"撤销{this['revocations']}家，到期未续{this['expiries']}家（上年分别为核准{last['approvals']}件、"
            f"暂停{last['suspensions']}家次、撤销{last['revocations']}家）。",
            f"年内未录入批次、未申领标签的核准使用者{fmt.integer(dormant)}家（可能未使用专用标志；连续两年未使用的，依规撤销）。",
            f"应报送使用情况报告的使用者{uses['users']}家，已确认报送{uses['received']}家。"]


def supervision_text(report: dict, lang: str) -> list[str]:
    s = report["supervision_more"]
    i, il = s["inspections"]["this"], s["inspections"]["last"]
    t = s["tests"]["this"]
    e = s["enforcement"]["this"]
    k = s["complaints"]["this"]
    median = fmt.number(k["median_days"], 1) if k["median_days"] is not None else "—"
    if lang == "en":
        return [f"{i['total']} inspections ({i['passed']} passed, {i['failed']} failed; last year {il['total']}); "
                f"{t['tests']} sampling tests, pass rate {fmt.percent(t['pass_rate'], locale='en')}.",
                f"{e['opened']} enforcement cases opened and {e['closed']} closed; fines "
                f"{fmt.number(e['fines_yuan'], 2)} yuan, confiscated goods worth {fmt.number(e['confiscated_value_yuan'], 2)} "
                f"yuan, {e['transferred_to_police']} transferred to the police.",
                f"{k['received']} complaints received, {k['closed']} closed; median handling time {median} days."]
    return [f"全年开展监督检查{i['total']}家次，合格{i['passed']}家次、不合格{i['failed']}家次（上年{il['total']}家次）；"
            f"抽样检测{t['tests']}批次，合格率{fmt.percent(t['pass_rate'], locale='zh')}。",
            f"立案{e['opened']}件，结案{e['closed']}件，罚款{fmt.number(e['fines_yuan'], 2)}元，没收物品价值"
            f"{fmt.number(e['confiscated_value_yuan'], 2)}元，移送公安机关{e['transferred_to_police']}件。",
            f"受理投诉举报{k['received']}件，办结{k['closed']}件，办理时间中位数{median}天。"]


def tracing_text(report: dict, lang: str) -> list[str]:
    t = report["traceability"]
    sc = report["tracing"]["scans"]["this"]
    rc = report["tracing"]["recalls"]["this"]
    if lang == "en":
        return [f"{fmt.integer(t['batches'])} batches of the year's harvest were traced ({fmt.kg(t['traced_kg'], 'en')} "
                f"dried equivalent), {fmt.percent(t['traced_share'], locale='en')} of the authorised users' output "
                f"({fmt.kg(t['authorised_output_kg'], 'en')}); {fmt.integer(t['labels_issued'])} unit codes were "
                f"issued against that output.",
                f"{fmt.integer(sc['codes'])} codes were first scanned in the year ({fmt.integer(sc['scans'])} scans); "
                f"{sc['counterfeit_total']} counterfeit signals were raised ({sc['counterfeit']['confirmed']} confirmed); "
                f"{rc['batches']} batches were withdrawn."] + _recall_reach_text(rc, lang)
    return [f"全年追溯当年采收批次{fmt.integer(t['batches'])}个，折干重{fmt.kg(t['traced_kg'], 'zh')}，占核准使用者产量"
            f"（{fmt.kg(t['authorised_output_kg'], 'zh')}）的{fmt.percent(t['traced_share'], locale='zh')}；"
            f"以产核标发放一物一码{fmt.integer(t['labels_issued'])}个。",
            f"年内首次被扫码的标签{fmt.integer(sc['codes'])}个，累计扫码{fmt.integer(sc['scans'])}次；"
            f"产生疑似假冒预警{sc['counterfeit_total']}条（确认{sc['counterfeit']['confirmed']}条）；"
            f"召回（撤回）批次{rc['batches']}个。"] + _recall_reach_text(rc, lang)


def _recall_reach_text(rc: dict, lang: str) -> list[str]:
    """What the year's recalls reached (report_figures.recalls), when there were any."""
    if not rc["batches"]:
        return []
    if lang == "en":
        return [f"The recalls reached {fmt.integer(rc['reached_batches'])} batches made from the withdrawn ones, "
                f"{fmt.kg(rc['reached_kg'], 'en')} in all, {fmt.integer(rc['units'])} unit codes (packages) and "
                f"{fmt.integer(rc['parties'])} parties; the recall was lifted from {fmt.integer(rc['lifted'])} batches "
                f"shown not to contain the recalled goods."]
    return [f"召回波及由被撤回批次制成的下游批次{fmt.integer(rc['reached_batches'])}个，共计{fmt.kg(rc['reached_kg'], 'zh')}，"
            f"一物一码（包装）{fmt.integer(rc['units'])}个，涉及经营主体{fmt.integer(rc['parties'])}家；"
            f"经核查不含召回原料、解除召回的批次{fmt.integer(rc['lifted'])}个。"]


# --- the document -------------------------------------------------------------------------------------

def _town_label(row: dict, town_names: dict) -> str:
    return town_names.get(row.get("town_code"), row.get("town_code") or "")


def render_html(data: dict, cover: Cover, problems_text: str = "", lang: str = "zh") -> str:
    """The printable report (A4, inline CSS and SVG, no external resources) in `lang`."""
    report = data["report"]
    lang = "en" if lang == "en" else "zh"
    comp = report["summary"]["compliance"]
    with force_locale(lang):
        return render_template(
            "oversight/report_annual.html", r=report, tables=data["tables"], lang=lang, cover=cover,
            title=title(report, lang), problems=[p.strip() for p in (problems_text or "").split("\n") if p.strip()],
            overview=overview(report, lang), management=management_text(report, lang),
            supervision=supervision_text(report, lang), tracing=tracing_text(report, lang),
            town_names=data.get("town_names", {}), fmt=fmt, reason_codes=rules.REASON_CODES,
            reason_label=reason_code_label, county_names=_county_names(report, lang),
            county_rows=[(_county_names(report, lang).get(row["county_code"], row["county_name"]), row["user_share"],
                          row["output_share"]) for row in report["counties"]["this"]["rows"]],
            chart_labels=(_("User share"), _("Output share"), _("Target")),
            svg_share_bars=svg.share_bars, svg_share_lines=svg.share_lines,
            comp=comp, table_names=table_names(), code_display=codes.display,
        )


def table_names() -> dict[str, str]:
    """The data tables' names as people read them (the files keep their identifiers)."""
    return {"compliance_by_county": _("Shares by county"), "compliance_history": _("Shares over the years"),
            "producers": _("Producers and why each counts"), "decisions": _("Decisions of the year"),
            "movements_by_county": _("Changes of users by county"), "traceability_by_stage": _("Kilograms by stage"),
            "inspections": _("Inspections"), "complaints": _("Complaints"),
            "recalls": _("Recalls and what they reached")}


def _county_names(report: dict, lang: str) -> dict:
    names = {row["code"]: row["name"] for row in report["county_list"]}
    if lang == "en":
        names.update({k: v for k, v in report.get("region_names_en", {}).items() if v})
    names[""] = "Not in a county" if lang == "en" else "不属任何县（区）"
    return names


def render_pdf(html: str) -> bytes:
    """The PDF of an HTML page (WeasyPrint: vector text, the CJK font subset and embedded)."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def figures_json(data: dict) -> str:
    """The figures and tables as canonical JSON (what an issued version stores and hashes)."""
    return json.dumps({"report": data["report"], "tables": data["tables"]}, ensure_ascii=False, sort_keys=True,
                      indent=1, default=str)


def report_json(report: dict) -> bytes:
    """The report's figures as JSON (sorted keys: the same figures give the same bytes)."""
    return json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode("utf-8")


def table_files(tables: dict) -> dict[str, bytes]:
    """tables/<name>.csv and tables.xlsx (through the one writer with the formula guard when present)."""
    files = {f"tables/{name}.csv": rep.table_csv(name, [tuple(r) for r in rows]) for name, rows in tables.items()}
    files["tables.xlsx"] = rep.tables_xlsx({name: [tuple(r) for r in rows] for name, rows in tables.items()})
    return files


def document_files(data: dict, cover: Cover, problems_text: str = "", lang: str = "zh", *,
                   pdf: bool = True) -> dict[str, bytes]:
    """report.html, report.pdf, report.json and the tables for one language."""
    html = render_html(data, cover, problems_text, lang)
    files = {"report.html": html.encode("utf-8"), "report.json": report_json(data["report"])}
    if pdf:
        files["report.pdf"] = render_pdf(html)
    files.update(table_files(data["tables"]))
    return files


def write_files(files: dict[str, bytes], out_dir: Path) -> list[Path]:
    """Write files into `out_dir` (each complete or not at all); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(content)
        tmp.replace(path)
        written.append(path)
    return written


def zip_files(files: dict[str, bytes], folder: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(f"{folder}/{name}", content)
    return out.getvalue()


# --- versions: drafts and issued reports ---------------------------------------------------------------

def _check_cover(authority: str, document_no: str, problems_text: str) -> None:
    if not (authority or "").strip() or len(authority) > 200:
        raise ValidationError(_("Name the issuing authority (at most 200 characters)."), field="authority")
    if len(document_no or "") > 100:
        raise ValidationError(_("Longer than %(n)s characters.", n=100), field="document_no")
    if len(problems_text or "") > MAX_PROBLEMS:
        raise ValidationError(_("Longer than %(n)s characters.", n=MAX_PROBLEMS), field="problems_text")


def _require_scope(user: User, county_code: Optional[str]) -> None:
    if user.role not in ("admin", "regulator"):
        raise Forbidden(_("Only regulators can do this."))
    if user.role == "regulator" and user.county_code and county_code != user.county_code:
        raise Forbidden(_("You can only see your own county."), field="county")


def new_draft(session: Session, user: User, product: Product, year: int, county_code: Optional[str], *,
              authority: str = "", document_no: str = "", dated: Optional[date] = None,
              problems_text: str = "") -> AnnualReport:
    """A new draft version (numbered after every earlier version of the same report)."""
    _require_scope(user, county_code)
    authority = (authority or "").strip() or default_authority()
    _check_cover(authority, document_no, problems_text)
    query = select(AnnualReport.version).where(AnnualReport.product_id == product.id, AnnualReport.year == year)
    query = query.where(AnnualReport.county_code.is_(None) if county_code is None
                        else AnnualReport.county_code == county_code)
    last = max(session.exec(query).all(), default=0)
    version = AnnualReport(product_id=product.id, year=year, county_code=county_code, version=last + 1,
                           authority=authority, document_no=(document_no or "").strip(), dated=dated,
                           problems_text=(problems_text or "").strip(), created_by=user.id)
    session.add(version)
    session.flush()
    return version


def update_draft(session: Session, user: User, version: AnnualReport, *, authority: str, document_no: str,
                 dated: Optional[date], problems_text: str) -> AnnualReport:
    """Change a draft's cover data and its 五、 text; an issued version never changes."""
    _require_scope(user, version.county_code)
    if version.issued:
        raise Conflict(_("This version is issued and cannot change; make a new draft."))
    _check_cover(authority, document_no, problems_text)
    version.authority = authority.strip()
    version.document_no = (document_no or "").strip()
    version.dated = dated
    version.problems_text = (problems_text or "").strip()
    session.add(version)
    session.flush()
    return version


def cover_of(version: AnnualReport) -> Cover:
    return Cover(version.authority, version.document_no, version.dated, version.status, version.version)


def build_for(session: Session, version: AnnualReport, *, today: Optional[date] = None) -> dict:
    """The figures of a version's report, computed now."""
    product = session.get(Product, version.product_id)
    data = rep.build_report(session, product, version.year, version.county_code, today=today)
    return data


def content_hash(figures: str, html_zh: str, html_en: str, pdf_zh: bytes, pdf_en: bytes) -> str:
    """SHA-256 over the parts of an issued version, each hashed, in a fixed order."""
    outer = hashlib.sha256()
    for part in (figures.encode("utf-8"), html_zh.encode("utf-8"), html_en.encode("utf-8"), pdf_zh, pdf_en):
        outer.update(hashlib.sha256(part).digest())
    return outer.hexdigest()


def check_issuable(user: User, version: AnnualReport) -> None:
    """What issuing needs and can be checked at once: the user's scope, a draft, a document number."""
    _require_scope(user, version.county_code)
    if version.issued:
        raise Conflict(_("This version is already issued."))
    if not version.document_no:
        raise ValidationError(_("Give the document number before issuing."), field="document_no")


def issue(session: Session, user: User, version: AnnualReport, *, today: date,
          data: Optional[dict] = None) -> AnnualReport:
    """Freeze a draft: compute the figures, render both languages and their PDFs, store them with the hash."""
    check_issuable(user, version)
    version.dated = version.dated or today
    version.status = "issued"
    data = data or build_for(session, version, today=today)
    cover = cover_of(version)
    figures = figures_json(data)
    html = {lang: render_html(data, cover, version.problems_text, lang) for lang in LANGS}
    pdfs = {lang: render_pdf(html[lang]) for lang in LANGS}
    version.figures_json, version.html_zh, version.html_en = figures, html["zh"], html["en"]
    version.pdf_zh, version.pdf_en = pdfs["zh"], pdfs["en"]
    version.sha256 = content_hash(figures, html["zh"], html["en"], pdfs["zh"], pdfs["en"])
    version.issued_by, version.issued_at = user.id, utcnow()
    session.add(version)
    session.flush()
    return version


def stored_files(version: AnnualReport, lang: str = "zh") -> dict[str, bytes]:
    """An issued version's files, exactly as stored (tables regenerated from the stored figures)."""
    if not version.issued:
        raise Conflict(_("Only an issued version has stored files."))
    lang = "en" if lang == "en" else "zh"
    stored = json.loads(version.figures_json)
    files = {"report.html": (version.html_en if lang == "en" else version.html_zh).encode("utf-8"),
             "report.pdf": version.pdf_en if lang == "en" else version.pdf_zh,
             "report.json": report_json(stored["report"])}
    files.update(table_files(stored["tables"]))
    return files


def get_version(session: Session, user: User, version_id: int) -> AnnualReport:
    version = session.get(AnnualReport, version_id)
    if version is None or (user.role == "regulator" and user.county_code and version.county_code != user.county_code):
        raise NotFound(_("No such report version."))
    return version


def list_versions(session: Session, user: User) -> list[AnnualReport]:
    query = select(AnnualReport).order_by(AnnualReport.year.desc(), AnnualReport.product_id,
                                          AnnualReport.county_code, AnnualReport.version.desc())
    if user.role == "regulator" and user.county_code:
        query = query.where(AnnualReport.county_code == user.county_code)
    return list(session.exec(query).all())


def region_names_en(session: Session) -> dict[str, str]:
    return dict(session.exec(select(Region.code, Region.name_en)).all())
