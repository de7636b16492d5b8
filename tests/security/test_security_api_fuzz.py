"""Fuzz the whole JSON API from its own OpenAPI document (schemathesis, in-process WSGI).

Every operation is driven with generated valid and invalid requests, as anonymous, as producer A
(owner of the seeded batches) and as a city regulator, with path parameters both generated and
pointing at real rows. Each response must not be a server error and must match the document:
a documented status code, the documented content type and the documented schema.

The document is fuzzed as published, and also narrowed by hints that steer request bodies towards
real rows and edge values (times at the ends of the calendar, the product's stages, the seeded
batch codes as inputs), so that generated requests get past the first checks and reach the
services. Responses are always validated against the published document.
"""
from __future__ import annotations

import copy
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

import gi_trace
from gi_trace.api import openapi_document
from gi_trace.registry.reference import GOJI_STAGES
from tests.security import world as seed

# 50 examples x 21 operations = 1050 requests (FUZZ_EXAMPLES=300 to explore): ~13 s on SQLite, ~16 s on PostgreSQL.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ACTORS = (None, "producer_a", "regulator_city")
# Times at the ends of what Python's datetime can hold, in offsets that push them over the edge.
EDGE_TIMES = ["2025-08-20T10:00:00+08:00", "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00",
              "0001-01-01T00:00:00Z", "2025-07-20T10:00:00+14:00", "2025-07-20T10:00:00-12:00",
              "1900-01-01T00:00:00+08:00"]

for _area in gi_trace.AREAS:  # the areas' api modules fill the OpenAPI registry as they are imported
    gi_trace._area_modules(_area, "api")

OPERATIONS = [(method.upper(), path) for path, ops in openapi_document()["paths"].items() for method in ops]


def _hinted(document: dict, world: seed.World) -> dict:
    """The document narrowed to likely-valid values (times, stages, real codes): deeper paths get reached."""
    doc = copy.deepcopy(document)
    stages = sorted({s["stage"] for s in GOJI_STAGES})
    codes = [world.harvest.code, world.lot.code, world.b_batch.code]

    def walk(node):
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                for name, schema in props.items():
                    if name == "occurred_at" and schema.get("type") == "string":
                        props[name] = {"enum": EDGE_TIMES}
                    elif name == "stage" and schema.get("type") == "string":
                        props[name] = {"enum": stages}
                    elif name == "code" and schema.get("type") == "string":
                        props[name] = {"enum": codes}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    # Only request bodies (and the components they use): responses are checked against the document as published.
    bodies = [op["requestBody"] for ops in doc["paths"].values() for op in ops.values() if "requestBody" in op]
    refs: set[str] = set()

    def collect(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"] not in refs:
                refs.add(node["$ref"])
                collect(doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(bodies)
    for ref in refs:
        walk(doc["components"]["schemas"][ref.rsplit("/", 1)[-1]])
    walk(bodies)
    return doc


@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_operation_never_errors_and_matches_its_document(app, session, method, path):
    world = seed.build(session)
    published = schemathesis.openapi.from_dict(openapi_document())
    hinted = schemathesis.openapi.from_dict(_hinted(openapi_document(), world))
    operation = published[path][method]
    names = {p.name for p in operation.path_parameters}
    real = {k: v for k, v in {"code": world.lot.code, "flag_id": world.flag.id}.items() if k in names}
    # Anything the published document describes, as anyone; and the hinted document on the real rows,
    # as their owner or a regulator.
    strategies = [st.tuples(operation.as_strategy(mode), st.sampled_from(ACTORS)) for mode in GenerationMode]
    for mode in (GenerationMode.POSITIVE, GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(st.tuples(hinted[path][method].as_strategy(mode, path_parameters=real or None),
                                    st.sampled_from(("producer_a", "producer_a", "regulator_city"))))
    seen: list[int] = []

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(*strategies))
    def run(drawn):
        case, who = drawn
        headers = {"Authorization": f"Bearer {world.tokens[who]}"} if who else {}
        response = case.call(app=app, headers=headers)
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    print(f"\n{method} {path}: {len(seen)} requests, statuses {sorted(set(seen))}")
