"""Forms of the producer portal. The stage form is built from the product's stage template (data),
so a second product with other stages needs no code; `form_to_event` turns it into the service's input.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.i18n import translations as wtforms_translations
from wtforms import (
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional as Opt
from wtforms.validators import ValidationError as FieldError

from gi_trace import formatting as fmt
from gi_trace.timeutil import LOCAL_TZ, local_now
from gi_trace.tracing.gs1 import PRODUCT_FORMS
from gi_trace.web.forms import NumberField, WholeNumberField

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def choices(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs (wtforms deprecates plain tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


NONE = ("", "—")
YES_NO = [NONE, ("yes", _l("Yes")), ("no", _l("No"))]


def english() -> bool:
    return str(get_locale() or "zh").startswith("en")


def field_label(spec: dict) -> str:
    """A template field's label in the current language, with its unit."""
    label = spec.get("label_en") if english() else spec.get("label_zh")
    label = label or spec.get("label_zh") or spec["name"]
    return label + fmt.paren(spec["unit"]) if spec.get("unit") else label


def stage_name(spec: dict) -> str:
    return (spec.get("name_en") if english() else spec.get("name_zh")) or spec["stage"]


def product_form_choices() -> list[tuple[str, Any]]:
    names = {"fresh": _l("Fresh"), "dried": _l("Dried"), "powder": _l("Powder"), "juice": _l("Juice"),
             "wine": _l("Wine"), "other": _l("Other")}
    return [(f, names[f]) for f in PRODUCT_FORMS]


def plausible_year(_form, field) -> None:
    """Dates from 1950 to 2100: anything else is a typing slip (and year 1 cannot shift time zones)."""
    if field.data is not None and not 1950 <= field.data.year <= 2100:
        raise FieldError(_l("Give a date between 1950 and 2100."))


class _WhereWhen(FlaskForm):
    occurred_at = DateTimeLocalField(_l("When it happened (Beijing time)"), format=DATETIME_FORMAT,
                                     validators=[InputRequired(), plausible_year])
    location_town = SelectField(_l("Town"), choices=[], default="", validate_choice=False)
    location_name = StringField(_l("Place"), validators=[Opt(), Length(max=200)])


class OpenBatchForm(FlaskForm):
    product = SelectField(_l("GI product"), choices=[], validators=[InputRequired()])
    cultivar = StringField(_l("Cultivar"), validators=[Opt(), Length(max=64)])
    trademark_id = SelectField(_l("Enterprise trademark (shown beside the GI mark)"), choices=[], default="")
    product_line_id = SelectField(_l("Product line (GTIN)"), choices=[], default="")
    producer_lot = StringField(_l("Your own lot number"), validators=[Opt(), Length(max=40)])


class RowForm(Form):
    """A row of a FieldList (no CSRF token of its own); its messages in the page's language, as FlaskForm's are."""

    class Meta:
        def get_translations(self, form):
            return wtforms_translations


class InputRow(RowForm):
    name = StringField(_l("Input"), validators=[Opt(), Length(max=200)])
    applied_on = DateField(_l("Date applied"), validators=[Opt(), plausible_year])
    safety_interval_days = WholeNumberField(_l("Safety interval (days)"), validators=[Opt(), NumberRange(min=0)])
    amount = StringField(_l("Amount"), validators=[Opt(), Length(max=100)])


class ResidueRow(RowForm):
    substance = StringField(_l("Substance"), validators=[Opt(), Length(max=100)])
    mg_per_kg = NumberField(_l("Measured (mg/kg)"), validators=[Opt(), NumberRange(min=0)])


class OutputRow(RowForm):
    quantity_kg = NumberField(_l("Quantity (kg)"), validators=[Opt(), NumberRange(min=0)])
    product_form = SelectField(_l("Product form"), choices=choices([NONE]), default="", validate_choice=False)
    producer_lot = StringField(_l("Lot number"), validators=[Opt(), Length(max=40)])


class PartRow(RowForm):
    quantity_kg = NumberField(_l("Quantity (kg)"), validators=[Opt(), NumberRange(min=0)])
    producer_lot = StringField(_l("Lot number"), validators=[Opt(), Length(max=40)])


class MergeRow(RowForm):
    code = SelectField(_l("Batch"), choices=[], default="", validate_choice=False)
    quantity_kg = NumberField(_l("Quantity (kg, empty: all it holds)"), validators=[Opt(), NumberRange(min=0)])


class SplitForm(_WhereWhen):
    parts = FieldList(FormField(PartRow), label=_l("Parts (each becomes a new batch)"), min_entries=4,
                      max_entries=50)


class MergeForm(_WhereWhen):
    inputs = FieldList(FormField(MergeRow), label=_l("Batches to merge"), min_entries=4, max_entries=50)
    producer_lot = StringField(_l("Lot number of the new batch"), validators=[Opt(), Length(max=40)])


class ClearanceForm(FlaskForm):
    reason = TextAreaField(_l("Why is the failure cleared?"), validators=[InputRequired(), Length(max=1000)])
    report_no = StringField(_l("Number of the new test report the decision rests on"),
                            validators=[InputRequired(), Length(max=64)])


class UnitsForm(FlaskForm):
    count = WholeNumberField(_l("Number of packages"), validators=[InputRequired(), NumberRange(min=1)])
    package_kg = NumberField(_l("Package size (kg)"), validators=[InputRequired(), NumberRange(min=0)])


class ProductLineForm(FlaskForm):
    product = SelectField(_l("GI product"), choices=[], validators=[InputRequired()])
    gtin = StringField(_l("GTIN (8, 12, 13 or 14 digits)"), validators=[InputRequired(), Length(max=20)])
    name = StringField(_l("Name of the product line"), validators=[InputRequired(), Length(max=200)])
    trademark_id = SelectField(_l("Enterprise trademark"), choices=[], default="")
    product_form = SelectField(_l("Product form"), choices=[])
    package_kg = NumberField(_l("Package size (kg)"), validators=[Opt(), NumberRange(min=0)])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why is the batch withdrawn?"), validators=[InputRequired(), Length(max=1000)])


def stage_form(spec: dict, plots: list[tuple[str, str]], towns: list[tuple[str, str]], formdata=None,
               correcting: bool = False, **kwargs) -> FlaskForm:
    """A form for one stage, with a field per template field (named `f_<name>`)."""

    class StageForm(_WhereWhen):
        pass

    if correcting:
        StageForm.correction_reason = TextAreaField(_l("Why is the earlier record corrected?"),
                                                    validators=[InputRequired(), Length(max=1000)])
    if spec.get("stage") == "testing":
        # set once the form has said beside the lab's conclusion that the computed verdict differs from it
        StageForm.lab_note_seen = HiddenField(default="")

    for f in spec.get("fields", []):
        required = [InputRequired()] if f.get("required") else [Opt()]
        label = field_label(f)
        kind = f["type"]
        if kind == "number":
            field = NumberField(label, validators=required + [NumberRange(min=0)])
        elif kind == "integer":
            field = WholeNumberField(label, validators=required + [NumberRange(min=0)])
        elif kind == "date":
            field = DateField(label, validators=required + [plausible_year])
        elif kind == "datetime":
            field = DateTimeLocalField(label, format=DATETIME_FORMAT, validators=required + [plausible_year])
        elif kind == "boolean":
            field = SelectField(label, choices=choices(YES_NO), validators=required)
        elif kind == "choice":
            options = [NONE] + [(c["value"], (c.get("label_en") if english() else c.get("label_zh")) or c["value"])
                                for c in f.get("choices", [])]
            field = SelectField(label, choices=choices(options), validators=required)
        elif kind == "plot":
            field = SelectField(label, choices=choices([NONE] + plots), validators=required)
        elif kind == "inputs":
            field = FieldList(FormField(InputRow), label=label, min_entries=3, max_entries=50)
        elif kind == "outputs":
            field = FieldList(FormField(OutputRow), label=label, min_entries=3, max_entries=50)
        elif kind == "residues":
            field = FieldList(FormField(ResidueRow), label=_l("%(label)s — leave empty when none was found",
                                                              label=label), min_entries=4, max_entries=100)
        elif kind == "text":
            field = TextAreaField(label, validators=required + [Length(max=500)])
        else:
            field = StringField(label, validators=required + [Length(max=500)])
        setattr(StageForm, "f_" + f["name"], field)
    form = StageForm(formdata=formdata, **kwargs) if formdata is not None else StageForm(**kwargs)
    form.location_town.choices = choices([NONE] + towns)
    for f in spec.get("fields", []):
        if f["type"] == "outputs":
            for entry in form["f_" + f["name"]]:
                entry.form.product_form.choices = choices([NONE] + product_form_choices())
    if not form.is_submitted() and form.occurred_at.data is None:
        form.occurred_at.data = local_now().replace(second=0, microsecond=0, tzinfo=None)
    return form


def prefill(spec: dict, form: FlaskForm, event) -> None:
    """Fill a stage form with an earlier event's content, for its correction."""
    from datetime import date as date_type, timedelta, timezone

    offset = timezone(timedelta(minutes=event.utc_offset_min or 0))
    form.occurred_at.data = event.occurred_at.astimezone(offset).replace(tzinfo=None, second=0, microsecond=0)
    form.location_town.data = event.location_town_code or ""
    form.location_name.data = event.location_name or ""
    for f in spec.get("fields", []):
        value = (event.data or {}).get(f["name"])
        if f["type"] == "residues" and isinstance(value, list):
            field = form["f_" + f["name"]]
            while len(field.entries) < len(value):
                field.append_entry()
            for entry, residue in zip(field.entries, value):
                entry.form.substance.data = residue.get("substance")
                entry.form.mg_per_kg.data = residue.get("mg_per_kg")
            continue
        if value is None or f["type"] in ("inputs", "outputs"):
            continue
        field = form["f_" + f["name"]]
        if f["type"] == "boolean":
            field.data = "yes" if value else "no"
        elif f["type"] == "plot":
            field.data = str(value)
        elif f["type"] == "date":
            field.data = date_type.fromisoformat(value)
        elif f["type"] == "datetime":
            field.data = datetime.fromisoformat(value).astimezone(LOCAL_TZ).replace(tzinfo=None)
        else:
            field.data = value


def suggest(form: FlaskForm, defaults: dict) -> None:
    """Pre-fill a new stage form with what the record already says (`guidance.stage_defaults`)."""
    if defaults.get("occurred_at") is not None:
        form.occurred_at.data = defaults["occurred_at"]
    if defaults.get("location_town"):
        form.location_town.data = defaults["location_town"]
    for name, value in (defaults.get("fields") or {}).items():
        key = "f_" + name
        if key in form._fields and form[key].data in (None, ""):
            form[key].data = value


def local_iso(value: Optional[datetime]) -> Optional[str]:
    """A naive local time from a form as ISO 8601 with the Beijing offset."""
    if value is None:
        return None
    return value.replace(tzinfo=LOCAL_TZ).isoformat()


def stage_data(spec: dict, form: FlaskForm) -> dict:
    """The `data` object of an event from a stage form (empty fields left out)."""
    data: dict[str, Any] = {}
    for f in spec.get("fields", []):
        field = form["f_" + f["name"]]
        kind = f["type"]
        if kind == "inputs":
            rows = []
            for entry in field:
                row = entry.form
                if not (row.name.data or "").strip():
                    continue
                item: dict[str, Any] = {"name": row.name.data.strip()}
                if row.applied_on.data:
                    item["applied_on"] = row.applied_on.data.isoformat()
                if row.safety_interval_days.data is not None:
                    item["safety_interval_days"] = row.safety_interval_days.data
                if (row.amount.data or "").strip():
                    item["amount"] = row.amount.data.strip()
                rows.append(item)
            if rows:
                data[f["name"]] = rows
            continue
        if kind == "residues":
            # Every row with a substance; the list is always sent (empty: the lab found none).
            residues = []
            for entry in field:
                row = entry.form
                name = (row.substance.data or "").strip()
                if not name and row.mg_per_kg.data is None:
                    continue
                residues.append({"substance": name, "mg_per_kg": row.mg_per_kg.data})
            data[f["name"]] = residues
            continue
        if kind == "outputs":
            rows = []
            for entry in field:
                row = entry.form
                if row.quantity_kg.data is None:
                    continue
                item = {"quantity_kg": row.quantity_kg.data}
                if row.product_form.data:
                    item["product_form"] = row.product_form.data
                if (row.producer_lot.data or "").strip():
                    item["producer_lot"] = row.producer_lot.data.strip()
                rows.append(item)
            data[f["name"]] = rows
            continue
        value = field.data
        if value is None or value == "":
            continue
        if kind == "boolean":
            value = value == "yes"
        elif kind == "plot":
            value = int(value)
        elif kind == "date":
            value = value.isoformat()
        elif kind == "datetime":
            value = local_iso(value)
        elif isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        data[f["name"]] = value
    return data


def location_of(form: FlaskForm) -> Optional[dict]:
    town = form.location_town.data or None
    name = (form.location_name.data or "").strip()
    if not town and not name:
        return None
    return {"town_code": town, "name": name}


def attach_error(form: FlaskForm, field: Optional[str], message: str, spec: Optional[dict] = None) -> None:
    """Show a service's error beside the field it names (else at the top of the form)."""
    target = None
    name = field or ""
    if name.startswith("data."):
        base = name[5:].split("[")[0].split(".")[0]
        target = "f_" + base
    elif name == "quantity_kg" and spec and spec.get("quantity_field"):
        target = "f_" + spec["quantity_field"]
    elif name in ("occurred_at",):
        target = "occurred_at"
    elif name == "location":
        target = "location_town"
    elif name.startswith("parts"):
        target = "parts"
    elif name.startswith("inputs"):
        target = "inputs"
    elif name:
        target = name
    if (target is None or target not in form._fields) and name.startswith("quantity"):
        # a mass-balance refusal on a split or merge belongs to its list of parts
        target = next((n for n in ("parts", "inputs") if n in form._fields), target)
    if target and target in form._fields:
        f = form[target]
        if isinstance(f.errors, tuple) or not isinstance(f.errors, list):
            f.errors = list(f.errors) if isinstance(f.errors, (list, tuple)) else []
        f.errors.append(message)
        return
    form.form_errors.append(message)
