"""The OpenAPI 3.1 document, generated from the API blueprint's routes and their `@operation` models.

Paths and path parameters come from the route table, who may call from `@access`, request and
response shapes from the models' JSON schemas (`pydantic.json_schema.models_json_schema`), so the
document cannot drift from what the code validates and returns.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from gi_trace.access import ANY_USER, PUBLIC, access_rule_of
from gi_trace.api.operations import ApiBlueprint, Operation, operation_of
from gi_trace.schemas import Public

REF = "#/components/schemas/{model}"


class ErrorDetail(Public):
    code: str
    message: str
    field: Optional[str] = None


class Error(Public):
    """An error: a code, a message for people, and the input it concerns (`field`), if any."""

    error: ErrorDetail


# Statuses every area shares, with what they mean unless an operation says more.
ERROR_TEXT = {
    400: "Malformed request",
    401: "No valid bearer token",
    403: "Not allowed for this role",
    404: "Not found",
    409: "Conflict (e.g. a concurrent change or a duplicate)",
    410: "Gone",
    413: "The request body is larger than the server accepts (MAX_CONTENT_LENGTH)",
    422: "Invalid input or refused by a rule (error.field names the input)",
    429: "Too many requests (per token, or per network for refused tokens); see Retry-After",
}


class _Schemas(GenerateJsonSchema):
    """JSON schemas without a title on every field (model titles stay)."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


_PARAM = re.compile(r"<(?:(?P<converter>[a-z_]+)(?:\([^)]*\))?:)?(?P<name>[a-z_][a-z0-9_]*)>")


def _path_template(rule: str) -> tuple[str, list[tuple[str, str]]]:
    params = [(m["name"], m["converter"] or "string") for m in _PARAM.finditer(rule)]
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", rule), params


def _query_parameters(model) -> list[dict]:
    schema = model.model_json_schema(mode="validation", schema_generator=_Schemas)
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: query parameters must be flat")
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        options = [s for s in prop.pop("anyOf", ()) if s != {"type": "null"}]  # absent, not null, in a URL
        if options:
            prop.update(options[0] if len(options) == 1 else {"anyOf": options})
        if prop.get("default", 0) is None:
            del prop["default"]
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        out.append(param)
    return out


def _content(answer, refs: dict) -> dict:
    if answer.model is None:
        return {"description": answer.description}
    return {"description": answer.description,
            "content": {answer.media_type: {"schema": refs[(answer.model, "serialization")]}}}


def _operation(view: Callable, op: Operation, params: list[tuple[str, str]], refs: dict) -> dict:
    rule = access_rule_of(view)
    doc = (view.__doc__ or "").strip()
    result: dict[str, Any] = {
        "operationId": view.__name__,
        "summary": op.summary or (doc.splitlines()[0] if doc else view.__name__),
        "tags": op.tags or [view.__module__.split(".")[1]],
        "security": [] if rule == PUBLIC else [{"bearer": []}],
    }
    if doc and len(doc.splitlines()) > 1:
        result["description"] = doc
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer"} if converter == "int" else {"type": "string"},
                   **({"description": op.path[name]} if name in op.path else {})} for name, converter in params]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        result["parameters"] = parameters
    errors: dict[int, Optional[str]] = {429: None}
    if rule != PUBLIC:
        errors[401] = None
        if not set(ANY_USER) <= set(rule or ()):
            errors[403] = None
    if op.body is not None:
        result["requestBody"] = {"required": True,
                                 "content": {media: {"schema": refs[(op.body, "validation")]} for media in op.body_media}}
        errors.update({400: None, 413: None, 422: None})
    if op.query is not None:
        errors[422] = None
    errors.update(op.errors)
    responses = {code: _content(answer, refs) for code, answer in op.responses.items()}
    error = refs[(Error, "serialization")]
    for code, text in errors.items():
        if code not in responses:
            responses[code] = {"description": text or ERROR_TEXT.get(code, "Error"),
                               "content": {"application/json": {"schema": error}}}
    result["responses"] = {str(code): responses[code] for code in sorted(responses)}
    return result


def openapi_document(blueprint: ApiBlueprint) -> dict:
    """The OpenAPI 3.1 description of every route of `blueprint` that declares an `@operation`."""
    routes = []
    for rule, methods, view in blueprint.routes:
        op = operation_of(view)
        if op is None:
            raise TypeError(f"API route {rule} has no @operation: the document would not describe it")
        if not op.hidden:
            routes.append((rule, methods, view, op))
    wanted = {(Error, "serialization")}
    for _rule, _methods, _view, op in routes:
        if op.body is not None:
            wanted.add((op.body, "validation"))
        wanted.update((a.model, "serialization") for a in op.responses.values() if a.model is not None)
    refs, definitions = models_json_schema(sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1])),
                                           ref_template=REF, schema_generator=_Schemas)
    paths: dict[str, dict] = {}
    for rule, methods, view, op in routes:
        template, params = _path_template(rule)
        for method in methods:
            paths.setdefault(template, {})[method.lower()] = _operation(view, op, params, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "gi-trace API", "version": "1"},
        "servers": [{"url": blueprint.url_prefix}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": definitions.get("$defs", {}),
        },
        "paths": paths,
    }
