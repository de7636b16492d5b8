"""The verdict rule (gi_trace.scan.verdict): one state from the recorded evidence, every reason kept."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from gi_trace.authorisation.rules import AUTHORISED, REVOKED, Status
from gi_trace.scan import verdict
from gi_trace.scan.verdict import Evidence, RecallEvidence, TestEvidence, decide

OK = Status(AUTHORISED)


def _evidence(**kwargs) -> Evidence:
    values = {"test": TestEvidence("passed"), "recall": None, "status_today": OK, "status_made": OK}
    return Evidence(**{**values, **kwargs})


def test_all_evidence_in_order_is_sellable_and_green():
    found = decide(_evidence())
    assert (found.state, found.tone, found.green, found.reasons) == ("sellable", "green", True, ())


def test_a_cleared_failure_is_sellable():
    assert decide(_evidence(test=TestEvidence("cleared", earlier_failures=("含水率 14.6% > 13%",)))).green


@pytest.mark.parametrize("test_state, reason", [("failed", verdict.TEST_FAILED), ("ungraded", verdict.TEST_UNGRADED),
                                                ("untested", verdict.UNTESTED), ("odd", verdict.UNTESTED)])
def test_a_test_that_did_not_pass_is_not_gi(test_state, reason):
    found = decide(_evidence(test=TestEvidence.from_state(test_state)))
    assert (found.state, found.tone, found.reasons) == ("not_gi", "red", (reason,))


def test_every_reason_is_kept_in_order_under_one_state():
    found = decide(_evidence(test=TestEvidence("failed"), status_made=Status(REVOKED), status_today=Status(REVOKED),
                             origin_state="declared", record_verifies=False, code_flagged=True))
    assert found.state == "not_gi"
    assert found.reasons == (verdict.TEST_FAILED, verdict.NOT_AUTHORISED_MADE, verdict.NOT_AUTHORISED_TODAY,
                             verdict.ORIGIN_DECLARED, verdict.RECORD_BROKEN, verdict.CODE_FLAGGED)


def test_a_recall_outranks_everything():
    found = decide(_evidence(recall=RecallEvidence("霉变"), test=TestEvidence("failed")))
    assert (found.state, found.tone, found.reasons[0]) == ("recalled", "red", verdict.RECALL)


@pytest.mark.parametrize("kwargs", [{"code_flagged": True}, {"record_verifies": False}])
def test_a_copied_code_or_a_broken_record_alone_is_amber(kwargs):
    found = decide(_evidence(**kwargs))
    assert (found.state, found.tone) == ("suspicious", "amber")


def test_origin_outside_the_protected_towns_is_not_gi():
    assert decide(_evidence(origin_state="outside")).reasons == (verdict.ORIGIN_OUTSIDE,)


def test_evidence_is_read_from_the_helpers_results_by_attribute():
    tested = TestEvidence.of(SimpleNamespace(state="cleared", failures=[], report_no="NX-2", earlier_failures=["a"],
                                             earlier_report_no="NX-1", cleared_by="retest"))
    assert tested == TestEvidence("cleared", (), "NX-2", ("a",), "NX-1", "retest")
    assert RecallEvidence.of(None) is None
    recall = RecallEvidence.of(SimpleNamespace(reason="霉变", recalled_at=None, source_code="ABC", source=False))
    assert recall == RecallEvidence("霉变", None, "ABC")
    own = RecallEvidence.of(SimpleNamespace(reason="霉变", recalled_at=None, source_code="ABC", source=True))
    assert own == RecallEvidence("霉变", None, None)
    lifted = SimpleNamespace(reason="霉变", recalled_at=None, source_code="ABC", source=False, lifted=True)
    assert RecallEvidence.of(lifted) is None  # lifted from this batch by a regulator: history, not a recall
