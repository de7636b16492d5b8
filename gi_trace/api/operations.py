"""`@operation(...)`: what an API route takes and answers, declared once with pydantic models.

The decorator validates the query string with the declared model before the view runs and passes
it as `query=`; it passes `body=`, a `Load` the view calls to get the validated JSON body: after it
has looked up the record in the path, so that another producer's batch answers 404 whatever the body
(a body never read is a bug the decorator reports). A refusal is the usual
`{"error": {"code", "message", "field"}}` with 422, the message translated and the field named as
the client wrote it, e.g. `parts[1].quantity_kg`. What the view returns is serialised through the
documented response model. The OpenAPI document is generated from the same declarations
(`gi_trace.api.openapi`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Mapping, Optional, TypeVar, Union

import pydantic
from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _

from gi_trace.errors import ValidationError
from gi_trace.schemas import Body, Public, Query

JSON = "application/json"
M = TypeVar("M", bound=pydantic.BaseModel)


class Load(Generic[M]):
    """The request body, validated by its model when the view calls it (once it knows the caller may); or, for an
    operation with its own `body_reader`, what that reader makes of it (the model then only documents it)."""

    def __init__(self, model: type[M], reader: Optional[Callable[[], Any]] = None):
        self.model = model
        self.reader = reader
        self.loaded = False

    def __call__(self) -> M:
        self.loaded = True
        if self.reader is not None:
            return self.reader()
        return parse(self.model, json_body())


@dataclass(frozen=True)
class Answer:
    """One documented response: its model (None: no body described), description and media type."""

    model: Optional[type[Public]]
    description: str
    media_type: str = JSON


@dataclass
class Operation:
    """What a route takes and answers; read by the wrapper and by the OpenAPI generator."""

    responses: dict[int, Answer]
    body: Optional[type[Body]] = None
    query: Optional[type[Query]] = None
    errors: dict[int, Optional[str]] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    summary: Optional[str] = None
    tags: Optional[list[str]] = None
    hidden: bool = False
    body_media: tuple[str, ...] = (JSON,)
    body_reader: Optional[Callable[[], Any]] = None

    @property
    def default_status(self) -> int:
        return min(code for code in self.responses if code < 300)


AnswerSpec = Union[type[Public], tuple, Answer, None]


def _answer(spec: AnswerSpec) -> Answer:
    if isinstance(spec, Answer):
        return spec
    if isinstance(spec, tuple):
        model, description, *media = spec
        return Answer(model, description, *media)
    description = (spec.__doc__ or spec.__name__).strip().splitlines()[0] if spec is not None else "Done"
    return Answer(spec, description)


def operation(*, responses: Mapping[int, AnswerSpec], body: Optional[type[Body]] = None,
              query: Optional[type[Query]] = None,
              errors: Union[Mapping[int, Optional[str]], Iterable[int]] = (),
              path: Optional[Mapping[str, str]] = None, summary: Optional[str] = None,
              tags: Optional[list[str]] = None, hidden: bool = False, body_media: tuple[str, ...] = (JSON,),
              body_reader: Optional[Callable[[], Any]] = None) -> Callable:
    """Declare a route's models: `responses={201: BatchPublic}` (or `(Model, "description")`, or
    `(Model, "description", "media/type")`), `body=`/`query=` models, the error statuses the route
    answers besides the usual ones (`errors=(404, 409)` or `{404: "description"}`), and descriptions
    of path parameters (`path={"code": "..."}`). The summary defaults to the docstring's first line. A body that
    is not a plain JSON object for pydantic (an EPCIS document) names its media types (`body_media`) and the
    function that reads and checks it (`body_reader`); its model then only describes it in the document.
    """
    op = Operation(responses={int(code): _answer(spec) for code, spec in responses.items()}, body=body, query=query,
                   errors=dict(errors) if isinstance(errors, Mapping) else {int(c): None for c in errors},
                   path=dict(path or {}), summary=summary, tags=tags, hidden=hidden, body_media=tuple(body_media),
                   body_reader=body_reader)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs):
            if op.query is not None:
                kwargs["query"] = parse(op.query, request.args.to_dict())
            load = Load(op.body, op.body_reader) if op.body is not None else None
            if load is not None:
                kwargs["body"] = load
            result = view(**kwargs)
            if load is not None and not load.loaded:
                raise TypeError(f"{view.__qualname__} never read its body: the document promises it is validated")
            return _respond(op, view, result)

        wrapper.api_operation = op
        wrapper.reads_own_body = op.body_reader is not None  # gi_trace.web leaves such a body to its reader
        return wrapper

    return decorate


def operation_of(view: Optional[Callable]) -> Optional[Operation]:
    """The operation declared on a view, if any."""
    return getattr(view, "api_operation", None)


def _respond(op: Operation, view: Callable, result: Any):
    status = None
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, Response):  # e.g. a JSON-LD document the view built itself
        if status is not None:
            result.status_code = status
        return result
    status = status or op.default_status
    answer = op.responses.get(status)
    if answer is None or answer.model is None or not isinstance(result, answer.model):
        # The document would lie about this answer: a bug in the view, not the client's fault.
        raise TypeError(f"{view.__qualname__} answered {type(result).__name__} with {status}, "
                        f"documented {answer.model.__name__ if answer and answer.model else 'nothing'}")
    response = current_app.json.response(result.to_json())
    response.status_code = status
    return response


def json_body() -> dict:
    """The request's JSON object, or a 422 that says what is wrong."""
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError(_("The body must be a JSON object (Content-Type: application/json)."), field="body")
    if not isinstance(data, dict):
        raise ValidationError(_("The body must be a JSON object."), field="body")
    return data


def parse(model: type[pydantic.BaseModel], data: Any):
    """`data` validated by `model`; the first problem as a ValidationError naming its field."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise refusal(exc.errors()[0]) from None


def field_name(loc: tuple) -> str:
    """A pydantic location as the client wrote it: ('parts', 1, 'quantity_kg') -> parts[1].quantity_kg."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _plain(number: Any) -> Any:
    """0 rather than 0.0 in a message."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def refusal(error: Mapping[str, Any]) -> ValidationError:
    """One pydantic error as the API's 422, in the user's language."""
    name = field_name(tuple(error.get("loc", ())))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        message = _("%(field)s is required.", field=name)
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        message = _("%(field)s must be a whole number.", field=name)
    elif kind in ("float_type", "float_parsing", "finite_number"):
        message = _("%(field)s must be a number.", field=name)
    elif kind in ("string_type", "string_unicode"):
        message = _("%(field)s must be text.", field=name)
    elif kind in ("bool_type", "bool_parsing"):
        message = _("%(field)s must be true or false.", field=name)
    elif kind in ("list_type", "tuple_type"):
        message = _("%(field)s must be a list.", field=name)
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        message = _("%(field)s must be an object.", field=name)
    elif kind in ("literal_error", "enum"):
        values = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        message = _("%(field)s must be one of: %(values)s.", field=name, values=values)
    elif kind in ("greater_than_equal", "greater_than"):
        limit = _plain(ctx.get("ge", ctx.get("gt")))
        message = (_("%(field)s must be at least %(limit)s.", field=name, limit=limit) if kind == "greater_than_equal"
                   else _("%(field)s must be more than %(limit)s.", field=name, limit=limit))
    elif kind in ("less_than_equal", "less_than"):
        limit = _plain(ctx.get("le", ctx.get("lt")))
        message = (_("%(field)s must be at most %(limit)s.", field=name, limit=limit) if kind == "less_than_equal"
                   else _("%(field)s must be less than %(limit)s.", field=name, limit=limit))
    elif kind == "too_short":
        message = _("%(field)s must list at least %(limit)s items.", field=name, limit=ctx.get("min_length"))
    elif kind == "too_long":
        message = _("%(field)s must list at most %(limit)s items.", field=name, limit=ctx.get("max_length"))
    elif kind == "string_too_long":
        message = _("%(field)s must be at most %(limit)s characters.", field=name, limit=ctx.get("max_length"))
    elif kind.startswith("date"):
        message = _("The date must be written YYYY-MM-DD.")
    else:
        message = _("%(field)s is not valid.", field=name)
    return ValidationError(message, field=name)


class ApiBlueprint(Blueprint):
    """A blueprint that remembers its routes, so the OpenAPI document can be built without an app."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.routes: list[tuple[str, tuple[str, ...], Callable]] = []

    def add_url_rule(self, rule, endpoint=None, view_func=None, provide_automatic_options=None, **options):
        if view_func is not None:
            methods = tuple(m.upper() for m in (options.get("methods") or ("GET",)))
            self.routes.append((rule, methods, view_func))
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **options)
