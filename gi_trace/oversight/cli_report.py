"""`flask --app gi_trace report annual ...`: the annual GI supervision report as files, and issuing it."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlmodel import select

from gi_trace.db import session_scope
from gi_trace.errors import DomainError
from gi_trace.accounts.models import User
from gi_trace.oversight import compliance as c
from gi_trace.oversight import report
from gi_trace.oversight import report_document as doc
from gi_trace.timeutil import local_today

report_cli = AppGroup("report", help="Supervision reports.")


@report_cli.command("annual")
@click.option("--product", "product_slug", required=True, help="Product slug, e.g. zhongning-goji.")
@click.option("--year", required=True, help="The reporting year.")
@click.option("--county", "county_code", default=None, help="Limit to one county (6-digit code).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write report.html, report.pdf, report.json, tables/*.csv and tables.xlsx into.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the document.")
@click.option("--authority", default="", help="Issuing authority (default: the REPORT_AUTHORITY setting).")
@click.option("--document-no", default="", help="Document number, e.g. 中市监发〔2026〕3号.")
@click.option("--date", "dated", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date printed on the document (YYYY-MM-DD); issuing uses today when empty.")
@click.option("--problems", "problems_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="UTF-8 text file with section 五 (problems and next steps), one paragraph a line.")
@click.option("--issue", is_flag=True, help="Issue (freeze) the report: store this version with its hash; the files "
                                            "written are the stored ones.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (drafts only).")
def annual_cmd(product_slug, year, county_code, out_dir, lang, authority, document_no, dated, problems_file, issue,
               no_pdf):
    """Write the annual GI supervision report (地理标志保护监管年度报告) for a product and year."""
    problems = problems_file.read_text(encoding="utf-8") if problems_file else ""
    try:
        with session_scope() as session:
            query = c.parse_query(session, product_slug, year, county_code)
            if issue:
                # The command acts as the system: the first admin account is recorded as the one who issued.
                admin = session.exec(select(User).where(User.role == "admin").order_by(User.id)).first()
                if admin is None:
                    raise click.ClickException("Issuing needs an admin account (flask --app gi_trace users create).")
                version = doc.new_draft(session, admin, query.product, query.year, query.county_code,
                                        authority=authority, document_no=document_no,
                                        dated=dated.date() if dated else None, problems_text=problems)
                doc.issue(session, admin, version, today=local_today())
                files = doc.stored_files(version, lang)
                click.echo(f"issued version {version.version} sha256 {version.sha256}", err=True)
            else:
                data = report.build_report(session, query.product, query.year, query.county_code, as_of=query.as_of)
                cover = doc.Cover(authority.strip() or doc.default_authority(), document_no.strip(),
                                  dated.date() if dated else None, "draft")
                files = doc.document_files(data, cover, problems, lang, pdf=not no_pdf)
            paths = doc.write_files(files, out_dir)
    except DomainError as exc:
        field = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{field}") from exc
    for path in paths:
        click.echo(str(path))


def register(app: Flask) -> None:
    app.cli.add_command(report_cli)
