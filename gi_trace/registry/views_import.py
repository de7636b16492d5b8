"""The regulators' upload page for register spreadsheets, and the template files to fill in."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField

from gi_trace import formatting as fmt
from gi_trace.access import access, actor
from gi_trace.db import fail, get_session
from gi_trace.registry.imports import (
    COLUMNS,
    KINDS,
    ImportFileError,
    allowed_values,
    detect_format,
    import_file,
    template_csv,
    template_xlsx,
)
from gi_trace.registry.models import Region

bp = Blueprint("registry_import", __name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # larger files: use `flask --app gi_trace import`
_MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def kind_labels() -> dict[str, str]:
    return {
        "producers": _("Producers"),
        "parties": _("Parties of the chain (traders, processors, markets, retailers)"),
        "output": _("Output records"),
        "sector-totals": _("Sector totals"),
        "authorisations": _("Authorisation decisions"),
        "gs1-prefixes": _("GS1 company prefixes"),
        "plots": _("Plots (planting census)"),
    }


class ImportForm(FlaskForm):
    kind = SelectField(_l("What the file holds"), choices=[])
    file = FileField(_l("File (CSV in UTF-8, or XLSX)"),
                     validators=[FileRequired(message=_l("Choose a file to upload."))])
    accept_warnings = BooleanField(_l("Also import rows with warnings (a credit code whose check character "
                                      "does not match)"))
    dry_run = BooleanField(_l("Only check the file, write nothing"))


def _read_upload(storage) -> tuple[bytes | None, str | None]:
    """The uploaded bytes, or a message saying why the file is refused (size, name, content)."""
    limit = current_app.config.get("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)
    suffix = Path(storage.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        return None, _("Only .csv and .xlsx files can be imported.")
    data = storage.stream.read(limit + 1)
    if len(data) > limit:
        return None, _("The file is larger than %(mb)s MB; split it, or import it with the command line.",
                       mb=round(limit / (1024 * 1024), 1))
    if not data:
        return None, _("The file is empty.")
    try:
        detect_format(data[:4096], storage.filename)
    except ImportFileError as exc:
        return None, exc.message
    return data, None


@bp.route("/import", methods=["GET", "POST"])
@access("regulator", "admin")
def upload():
    """Upload a spreadsheet of producers, output, sector totals or decisions: all rows or none."""
    form = ImportForm()
    labels = kind_labels()
    form.kind.choices = [(k, labels[k]) for k in KINDS]
    result = None
    status = 200
    if form.validate_on_submit():
        data, problem = _read_upload(form.file.data)
        if problem is None:
            session = get_session()
            try:
                result = import_file(session, form.kind.data, data, filename=form.file.data.filename,
                                     user=actor(), accept_warnings=form.accept_warnings.data,
                                     dry_run=form.dry_run.data)
            except ImportFileError as exc:
                problem = exc.message
            else:
                if not result.written:
                    fail()  # a dry run or a refused file: whatever was looked at is not kept
                status = 200 if result.ok else 422
        if problem is not None:
            form.file.errors.append(problem)
            status = 400
    elif form.is_submitted():
        status = 400
    county_code = getattr(actor(), "county_code", None)
    county = get_session().get(Region, county_code) if county_code else None
    return render_template("registry/import.html", form=form, result=result, labels=labels, columns=COLUMNS,
                           kinds=KINDS, county_code=county_code,
                           county_label=f"{fmt.name(county)} {county_code}" if county else county_code), status


@bp.get("/import/templates/<kind>.<fmt>")
@access("regulator", "admin")
def template(kind: str, fmt: str):
    """The header row of an import kind (CSV), or (XLSX) with an example row and an allowed-values sheet."""
    if kind not in KINDS or fmt not in _MIME:
        abort(404)
    body = template_csv(kind) if fmt == "csv" else template_xlsx(kind, allowed_values(get_session()))
    return body, 200, {
        "Content-Type": _MIME[fmt],
        "Content-Disposition": f'attachment; filename="{kind}.{fmt}"',
    }
