"""EPCIS capture never answers 500, whatever a valid-looking document holds: a real document of every event type
the capture maps, with random JSON put into random fields (ids, times, quantities, URIs, lists). Every answer is
JSON with a documented status; a refusal writes nothing. (The OpenAPI fuzz test drives the endpoint with bodies
generated from its published model too.)"""
from __future__ import annotations

import copy
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gi_trace.tracing import codes
from tests.epcis_capture_support import (counts, document, drying, event, fresh, grower,  # noqa: F401 (fixture)
                                         harvest, kg, lab_test, party, planting, post, storage, t, token)

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FIELDS = ("eventID", "eventTime", "eventTimeZoneOffset", "type", "action", "bizStep", "disposition", "quantityList",
          "inputQuantityList", "outputQuantityList", "epcList", "childEPCs", "parentID", "readPoint", "bizLocation",
          "sourceList", "destinationList", "bizTransactionList", "sensorElementList", "ilmd", "certificationInfo",
          "errorDeclaration", "gt:stage", "gt:corrects", "gt:outputs", "gt:packageKg", "gt:reason", "gt:lot")
SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=30) | st.sampled_from(["ABCD-EFGH-JKMN-PQ", "https://x.cn/t/", "geo:91,181",
                                                   "https://x.cn/01/06901234567892/10/%00", "2025-13-40T25:61:00Z",
                                                   "+14:30", "urn:uuid:", "KGM", "commissioning", "\x00"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["epcClass", "quantity", "uom", "id", "type", "source", "destination", "bizTransaction",
                     "sensorReport", "value", "gt:epcClass", "gt:lot", "correctiveEventIDs", "declarationTime"])
    | st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _events(plot_id: int, buyer_code: str) -> list[dict]:
    code, part = codes.new_code(), codes.new_code()
    return [planting(fresh(code), plot_id), harvest(fresh(code), plot_id, 800.0), drying(code, t(code), 800.0, 200.0),
            lab_test(t(code)), storage(t(code)),
            event("TransformationEvent", "2025-08-06T10:00:00+08:00", inputQuantityList=[kg(t(code), 50.0)],
                  outputQuantityList=[kg(t(part), 50.0)], bizStep="repackaging", **{"gt:stage": "split"}),
            event("ObjectEvent", "2025-08-07T10:00:00+08:00", action="ADD", bizStep="commissioning",
                  epcList=[t(codes.new_code())], ilmd={"cbvmda:lotNumber": part}, **{"gt:packageKg": 0.25}),
            event("ObjectEvent", "2025-08-08T10:00:00+08:00", action="OBSERVE", bizStep="shipping",
                  quantityList=[kg(t(part), 5.0)], sourceList=[{"type": "owning_party", "source": party("X")}],
                  destinationList=[{"type": "owning_party", "destination": party(buyer_code)}])]


def test_random_values_in_any_field_of_any_event_never_make_a_server_error(app, client, session, grower):
    raw = token(session, grower.user)
    buyer_code = grower.producer.code

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, 7), st.sampled_from(FIELDS), VALUES, st.booleans()), min_size=1,
                    max_size=3))
    def run(changes):
        events = _events(grower.plot.id, buyer_code)
        for index, field, value, remove in changes:
            target = events[index]
            if remove:
                target.pop(field, None)
            else:
                target[field] = copy.deepcopy(value)
        before = counts(session)
        response = post(client, raw, document(*events))
        assert response.status_code in (200, 201, 400, 413, 415, 422), (response.status_code, changes)
        assert response.is_json, changes
        if response.status_code >= 400:
            assert counts(session) == before, changes
            body = response.get_json()["error"]
            assert body["message"] and body["field"], body

    run()
