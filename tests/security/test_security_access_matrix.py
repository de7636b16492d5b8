"""Access matrix: every route and method of the URL map x six actors -> allow or deny.

Every one of these responses must also carry the security headers (tests/security/headers.py)
and, when it is HTML, hold no inline script, event handler or style attribute.

The expectation comes from each view's declared rule (`access.access_rule_of`) and from who owns
the object a URL names: producer B and the regulator of another county (海原县 640522) must not
reach producer A's batches, producers/<id>, complaints, flags or tokens (中宁县 640521). URL
parameters are filled from PARAMS by name: a route with a parameter PARAMS does not know fails,
so a new route must be added here. CSRF is off in this module only, so the access rule decides.
"""
from __future__ import annotations

import pytest

from gi_trace.access import PUBLIC, access_rule_of
from tests.security import world as seed
from tests.security.headers import header_problems, html_problems

ACTORS = ("anonymous", "producer_a", "producer_b", "regulator_other", "regulator_city", "admin")

# parameter name -> value from the seeded world
PARAMS = {
    "code": lambda w: w.lot.code,
    "producer_id": lambda w: w.producer_a.producer.id,
    "slug": lambda w: "zhongning-goji",
    "token_id": lambda w: w.token_ids["producer_a"],
    "complaint_id": lambda w: w.complaint_id,
    "flag_id": lambda w: w.flag.id,
    "stage": lambda w: "storage",
    "kind": lambda w: "producers",
    "fmt": lambda w: "csv",
    "gtin": lambda w: w.line.gtin14,
    "lot": lambda w: w.lot.producer_lot,
    "serial": lambda w: w.unit.code,  # AI (21) is the package's own unit code
    "filename": lambda w: "css/app.css",
    "job_id": lambda w: w.job_id,
    "version_id": lambda w: w.report_version_id,
    "case_id": lambda w: w.case_id,
    "ext": lambda w: "json",
    "shipment_id": lambda w: w.shipment_id,
    "purchase_id": lambda w: w.purchase_id,
    "event_id": lambda w: w.sale_event_id,
    "recall_id": lambda w: getattr(w, "recall_id", 1),  # the access matrix makes one; elsewhere: no such recall
    "plot_id": lambda w: w.producer_a.plot.id,
    "county_code": lambda w: w.producer_a.producer.county_code,
    "rest": lambda w: w.line.gtin14,  # a Digital Link path (the public resolver): producer A's product line
    "town_code": lambda w: w.producer_a.plot.town_code,
    "party_code": lambda w: w.producer_a.producer.code,
    "gln": lambda w: w.producer_b.producer.gln,
    "number": lambda w: "WB-2025-1",
    "term": lambda w: "stage",
}

# parameter name -> the actors who may reach the object it names (others: 403 or 404), when the
# route's rule lets them in at all. Parameters not listed name nothing owned (a product, a format).
OWNERS = {
    "code": {"producer_a", "regulator_city", "admin"},
    "producer_id": {"producer_a", "regulator_city", "admin"},
    "complaint_id": {"regulator_city", "admin"},
    "flag_id": {"regulator_city", "admin"},
    "token_id": {"producer_a"},
    "job_id": {"producer_a", "admin"},  # a long job producer A asked for (admins see every job)
    "version_id": {"regulator_city", "admin"},
    "case_id": {"regulator_city", "admin"},
    "shipment_id": {"producer_a"},  # the receiver
    "purchase_id": {"producer_a"},  # the buyer
    "event_id": {"producer_a"},  # the seller (a sale is a record of its own batch)
    "recall_id": {"regulator_city", "admin"},  # a recall reaching producer A's county only
    "plot_id": {"producer_a"},  # the plot's owner
    "county_code": {"regulator_city", "admin"},  # producer A's county (中宁县): not the other county's regulator
}
# Routes whose owners differ from their parameter's: a shipment's certificate is the sender's and the receiver's.
ENDPOINT_OWNERS = {"inputs.plot_record": {"regulator_city", "admin"},  # producer A's plot, read by regulators
                   "chain.shipment_certificate": {"producer_a", "producer_b"},
                   "chain.shipment_certificate_pdf": {"producer_a", "producer_b"}}

# Endpoints a county-limited regulator may not use although regulators may (city-level work).
CITY_LEVEL = {"registry.new_product", "registry.edit_product"}
# The same for one method of an endpoint: any regulator reads a product's limits, the city records them.
CITY_LEVEL_METHODS = {("limits.product_limits", "POST"), ("api.record_product_limits", "POST")}

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": False}


def _routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(set(rule.methods) & set(METHODS)):
            yield rule, method


def _expected(app, rule, method, actor: str) -> str:
    declared = access_rule_of(app.view_functions[rule.endpoint])
    if declared is None:
        return "deny"  # undeclared routes are denied to everyone (and fail test_every_route_declares_a_rule)
    if declared == PUBLIC:
        return "allow"
    if actor == "anonymous":
        return "login"
    if actor.split("_")[0] not in declared:
        return "deny"
    if actor == "regulator_other" and (rule.endpoint in CITY_LEVEL or (rule.endpoint, method) in CITY_LEVEL_METHODS):
        return "deny"
    if rule.endpoint in ENDPOINT_OWNERS:
        return "allow" if actor in ENDPOINT_OWNERS[rule.endpoint] else "deny"
    for name in rule.arguments:
        if name in OWNERS and actor not in OWNERS[name]:
            return "deny"
    return "allow"


def _client(app, world, actor: str):
    client = app.test_client()
    if actor != "anonymous":
        response = client.post("/login", data={"username": world.users[actor].username, "password": "password123"})
        assert response.status_code == 302, (actor, response.status_code)
    return client


def test_every_route_declares_a_rule(app):
    undeclared = sorted(r.rule for r in app.url_map.iter_rules()
                        if access_rule_of(app.view_functions[r.endpoint]) is None)
    assert undeclared == []


def test_access_matrix(app, session, record_property):
    world = seed.build(session)
    from gi_trace.accounts.services import create_token

    # A second token of producer A's for the revoke route (the first one drives the API requests).
    world.token_ids = {"producer_a": create_token(session, world.users["producer_a"], "to revoke")[0].id}
    # A recall of a harvest of producer A's (only regulators of its county and the city may open it).
    from gi_trace.tracing import recall, services as tracing_services

    recalled = world.producer_a.harvested(session)
    tracing_services.withdraw(session, world.producer_a.user, recalled, "抽检不合格")
    world.recall_id = recall.recall_for(session, recalled).recall_id
    session.commit()
    unknown = sorted({f"{rule.rule} <{name}>" for rule, _ in _routes(app) for name in rule.arguments
                      if name not in PARAMS})
    assert not unknown, f"add these URL parameters to PARAMS (and OWNERS if they name an owned object): {unknown}"

    failures, cells, routes = [], 0, set()
    for actor in ACTORS:
        for rule, method in _routes(app):
            routes.add((rule.rule, method))
            client = _client(app, world, actor)  # a fresh login per request: POST /logout ends a session
            url = _url(app, rule, world)
            api = rule.rule.startswith("/api/")
            headers = {"Authorization": f"Bearer {world.tokens[actor]}"} if api and actor != "anonymous" else {}
            kwargs = {"json": {}} if api and method != "GET" else ({"data": {}} if method != "GET" else {})
            response = client.open(url, method=method, headers=headers, **kwargs)
            problems = header_problems(response) + html_problems(response)
            response.close()
            if problems:
                failures.append(f"{method} {url} as {actor} ({response.status_code}): {problems}")
            cells += 1
            verdict = _verdict(response, api)
            expected = _expected(app, rule, method, actor)
            if response.status_code >= 500 or not _matches(expected, verdict, api):
                failures.append(f"{method} {url} as {actor}: expected {expected}, got {response.status_code} "
                                f"{response.headers.get('Location', '')}")
    print(f"\naccess matrix: {len(routes)} route-methods x {len(ACTORS)} actors = {cells} requests")
    record_property("access_matrix_cells", cells)
    assert not failures, "\n".join(failures)


def _url(app, rule, world) -> str:
    values = {name: PARAMS[name](world) for name in rule.arguments}
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        return adapter.build(rule.endpoint, values, method=None, force_external=False)


def _verdict(response, api: bool) -> str:
    status = response.status_code
    if status == 401 or (status in (301, 302, 303) and response.headers.get("Location", "").startswith("/login")):
        return "login"
    if status in (403, 404):
        return "deny"
    return "allow"


def _matches(expected: str, verdict: str, api: bool) -> bool:
    return expected == verdict
