"""Which inherited failures a regulator's clearance of an input clears (quality.Ledger.flow_down; no database)."""
from __future__ import annotations

from gi_trace.tracing import quality

SO2 = {"code": "SOURCE", "report_no": "NX-SO2", "sampled_on": "2025-07-14",
       "items": [{"item": "so2", "value": 600.0, "limit": 50.0}], "clear_by": "regulator"}
WET = {"code": "SOURCE", "report_no": "NX-WET", "sampled_on": "2025-07-14",
       "items": [{"item": "moisture", "value": 14.6, "limit": 13.0}], "clear_by": "retest"}


def made(*records, state_if_cleared="passed", sources=1, **inherited) -> quality.Ledger:
    ledger = quality.Ledger(code="BLEND")
    ledger.inherit({"test_state": "failed", "open_failures": [dict(r) for r in records], "cleared_failures": [],
                    **({"test_state_if_cleared": state_if_cleared} if state_if_cleared else {}), **inherited}, sources)
    return ledger


def cleared(record, by="regulator", report="GOV-7"):
    return {**record, "cleared_by": by, "cleared_report_no": report, "reason": "复检合格"}


def test_a_failure_every_holding_input_has_cleared_by_a_regulator_is_cleared_citing_its_report():
    ledger = made(SO2)
    ledger.flow_down([("SOURCE", {"open": [], "cleared": [cleared(SO2)]})])
    assert ledger.state == "cleared" and ledger.open == []
    assert ledger.cleared[0]["cleared_report_no"] == "GOV-7" and ledger.cleared[0]["cleared_in"] == "SOURCE"
    verdict = quality.verdict_of(ledger.record(), "failed", "BLEND")
    assert (verdict.state, verdict.cleared_by, verdict.report_no) == ("cleared", "regulator", "GOV-7")


def test_an_input_still_holding_it_open_or_cleared_only_by_a_re_test_keeps_it():
    for inputs in ([("LOT1", {"cleared": [cleared(SO2)]}), ("LOT2", {"open": [SO2]})],
                   [("SOURCE", {"cleared": [cleared(WET, by="retest", report="NX-DRY")]})],
                   [("OTHER", {"open": [], "cleared": []})]):
        ledger = made(SO2 if inputs[0][0] != "SOURCE" else WET)
        ledger.flow_down(inputs)
        assert ledger.state == "failed" and len(ledger.open) == 1, inputs


def test_the_batch_s_own_failure_stays_and_the_state_is_never_greener_than_the_inputs():
    own = {**SO2, "code": "BLEND", "report_no": "BLEND-1"}
    ledger = made(SO2)
    ledger.open.append(own)
    ledger.flow_down([("SOURCE", {"cleared": [cleared(SO2)], "open": [own]})])
    assert ledger.open == [own] and ledger.state == "failed"
    # made with an untested input: the cleared failure leaves it untested, not passed
    assert _after(made(SO2, state_if_cleared="untested")) == "untested"
    # made before the state-if-cleared was kept: one input passes once cleared, several are not known
    assert _after(made(SO2, state_if_cleared=None, sources=1)) == "cleared"
    assert _after(made(SO2, state_if_cleared=None, sources=2)) == "untested"


def _after(ledger: quality.Ledger) -> str:
    ledger.flow_down([("SOURCE", {"cleared": [cleared(SO2)]})])
    return ledger.state
