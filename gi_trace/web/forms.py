"""A form's call to a service, in one place: the result, or the refusal beside its field.

Every page that saves a form does the same thing: call one service; if a rule of the domain
refuses, show the message beside the field it names and write nothing. `attempt` does it, and
declares the request failed (`db.fail()`), so the unit of work rolls back whatever the service
had flushed before it refused, even when the page answers with the form again and a 200.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Mapping, Optional, TypeVar

from flask_wtf import FlaskForm
from wtforms import FloatField, IntegerField
from wtforms.validators import StopValidation

from gi_trace.db import fail
from gi_trace.errors import DomainError

T = TypeVar("T")


class _OneMessage:
    """A number that could not be read gets that one message ("请填写数字"), not also the range's ("数值不能小于
    0", about a value it never had)."""

    def pre_validate(self, form) -> None:
        super().pre_validate(form)
        if self.process_errors:
            raise StopValidation()


class WholeNumberField(_OneMessage, IntegerField):
    """A whole-number box with one message for what is not a whole number."""


class NumberField(_OneMessage, FloatField):
    """A decimal number box that shows a whole number as people write it: 1000, not WTForms' str(1000.0)
    "1000.0" (a default, a stored figure or a prefilled quantity); what was typed is shown as typed."""

    def _value(self) -> str:
        if not self.raw_data and isinstance(self.data, float) and self.data.is_integer() and abs(self.data) < 1e15:
            return str(int(self.data))
        return super()._value()


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a service call gave: its value, or the refusal (already shown on the form)."""

    value: Optional[T] = None
    error: Optional[DomainError] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __bool__(self) -> bool:
        return self.ok


def show_error(form: FlaskForm, exc: DomainError, fallback: Optional[str] = None,
               aliases: Optional[Mapping[str, str]] = None) -> None:
    """Put a service's refusal beside the field it names (through `aliases`), else beside `fallback`,
    else above the form."""
    name = (aliases or {}).get(exc.field, exc.field)
    if not name or name not in form._fields:
        name = fallback
    if name and name in form._fields:
        form._fields[name].errors = list(form._fields[name].errors or []) + [exc.message]
    else:
        form.form_errors.append(exc.message)


def attempt(form: FlaskForm, action: Callable[[], T], *, fallback: Optional[str] = None,
            aliases: Optional[Mapping[str, str]] = None, raise_statuses: Iterable[int] = (),
            place: Optional[Callable[[FlaskForm, DomainError], None]] = None) -> Outcome[T]:
    """Run `action` (one service call). On a DomainError: re-raise it if its status is in
    `raise_statuses` (403/404 pages), else show it on the form (`place`, or `show_error` with
    `fallback` and `aliases`); either way the request is declared failed and nothing is committed."""
    try:
        return Outcome(value=action())
    except DomainError as exc:
        fail()
        if exc.status in tuple(raise_statuses):
            raise
        (place or (lambda f, e: show_error(f, e, fallback, aliases)))(form, exc)
        return Outcome(error=exc)
