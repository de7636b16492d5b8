"""One verdict per code: the headline of the scan page and of the public trace, from recorded evidence only.

Four states, one headline:

- ``sellable``   a GI product that may be sold as such (green);
- ``not_gi``     not to be sold as a GI product: a failed, ungraded or missing test, a producer not
                 authorised on the day it was made (or today), an origin that is not verified (red, with
                 every reason that applies);
- ``recalled``   withdrawn by its owner or a regulator, or made from such a batch (red; the page is the
                 410 recall notice);
- ``suspicious`` a code seen in a way a copied label looks like, or a record that does not verify
                 (amber). An unregistered code has no batch and is answered by the not-found page, in
                 the same amber.

Only ``sellable`` is green; below any other headline nothing reassures (pages render authorisation lines,
badges, grade and the record check neutral).

Evidence comes in through two adapters, each the single point where another part of issue 12 is
connected: `test_evidence` (`tracing.quality.test_verdict`) and `recall_evidence` (`tracing.recall.recall_for`).
Both take a `batch_of` callable that yields ``(session, batch)`` on demand; the scan page hands the test
adapter its batch row, which carries the columns test_verdict reads, and reads the recall in force from
the same row (scan.read_path.recall_of_row: the 410 recall notice is then the page).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from gi_trace.authorisation import rules
from gi_trace.tracing import quality, recall

SELLABLE = "sellable"
NOT_GI = "not_gi"
RECALLED = "recalled"
SUSPICIOUS = "suspicious"
STATES = (SELLABLE, NOT_GI, RECALLED, SUSPICIOUS)
TONES = {SELLABLE: "green", NOT_GI: "red", RECALLED: "red", SUSPICIOUS: "amber"}

# Reasons, in the order a page lists them.
RECALL = "recalled"
TEST_FAILED = "test_failed"
TEST_UNGRADED = "test_ungraded"
UNTESTED = "untested"
NOT_AUTHORISED_MADE = "not_authorised_when_made"
NOT_AUTHORISED_TODAY = "not_authorised_today"
ORIGIN_DECLARED = "origin_declared"
ORIGIN_OUTSIDE = "origin_outside"
RECORD_BROKEN = "record_broken"
CODE_FLAGGED = "code_flagged"
REASONS = (RECALL, TEST_FAILED, TEST_UNGRADED, UNTESTED, NOT_AUTHORISED_MADE, NOT_AUTHORISED_TODAY,
           ORIGIN_DECLARED, ORIGIN_OUTSIDE, RECORD_BROKEN, CODE_FLAGGED)

TEST_STATES = ("passed", "cleared", "failed", "ungraded", "untested")


@dataclass(frozen=True)
class TestEvidence:
    """What the batch's tests say (the shape of tracing.quality.TestVerdict)."""

    __test__ = False  # not a pytest class

    state: str  # TEST_STATES
    failures: tuple[str, ...] = ()  # failing items of the deciding test, in words ("含水率 14.6% > 13%")
    report_no: str = ""
    earlier_failures: tuple[str, ...] = ()  # a cleared failure: what the first test found
    earlier_report_no: str = ""
    cleared_by: str = ""

    @property
    def passed(self) -> bool:
        return self.state in ("passed", "cleared")

    @classmethod
    def of(cls, verdict: Any) -> "TestEvidence":
        """From a tracing.quality.TestVerdict (read by attribute)."""
        state = getattr(verdict, "state", "untested")
        return cls(state=state if state in TEST_STATES else "untested",
                   failures=tuple(str(f) for f in getattr(verdict, "failures", None) or ()),
                   report_no=getattr(verdict, "report_no", None) or "",
                   earlier_failures=tuple(str(f) for f in getattr(verdict, "earlier_failures", None) or ()),
                   earlier_report_no=getattr(verdict, "earlier_report_no", None) or "",
                   cleared_by=str(getattr(verdict, "cleared_by", None) or ""))

    @classmethod
    def from_state(cls, test_state: Optional[str]) -> "TestEvidence":
        """From the batch's own test_state column (passed / failed / untested)."""
        return cls(state=test_state if test_state in TEST_STATES else "untested")


@dataclass(frozen=True)
class RecallEvidence:
    """A recall reaching this batch (the shape of tracing.recall.RecallInfo)."""

    reason: str = ""
    recalled_at: Optional[datetime] = None
    source_code: Optional[str] = None  # the recalled batch, when this one was made from it

    @classmethod
    def of(cls, info: Any) -> Optional["RecallEvidence"]:
        """From a tracing.recall.RecallInfo: None when there is none or it was lifted from this batch."""
        if info is None or getattr(info, "lifted", False):
            return None
        own = getattr(info, "source", False) is True  # the withdrawn batch itself
        return cls(reason=getattr(info, "reason", None) or "", recalled_at=getattr(info, "recalled_at", None),
                   source_code=None if own else getattr(info, "source_code", None))


BatchOf = Callable[[], tuple]  # () -> (session, tracing.models.Batch), loaded only when called


def test_evidence(batch_of: BatchOf) -> TestEvidence:
    """The batch's test evidence: tracing.quality's verdict (computed from measured values and limits)."""
    return TestEvidence.of(quality.test_verdict(*batch_of()))


def recall_evidence(withdrawn_at: Optional[datetime], withdrawn_reason: Optional[str],
                    batch_of: BatchOf) -> Optional[RecallEvidence]:
    """The recall in force on the batch (tracing.recall.recall_for: withdrawn itself, or made from a withdrawn
    batch), or None. (The scan page reads the same from its batch row: scan.read_path.recall_of_row.)"""
    found = RecallEvidence.of(recall.recall_for(*batch_of()))
    if found is None and withdrawn_at is not None:  # withdrawn with no recall row: still recalled
        return RecallEvidence(reason=withdrawn_reason or "", recalled_at=withdrawn_at)
    return found


@dataclass(frozen=True)
class Evidence:
    """Everything recorded that the verdict weighs."""

    test: TestEvidence
    recall: Optional[RecallEvidence]
    status_today: rules.Status
    status_made: rules.Status
    origin_state: str = "verified"  # verified | declared | outside
    origin_break: Optional[str] = None
    record_verifies: bool = True
    code_flagged: bool = False


@dataclass(frozen=True)
class Verdict:
    """The headline: one state and the reasons behind it (empty for ``sellable``)."""

    state: str
    reasons: tuple[str, ...] = field(default_factory=tuple)
    test: Optional[TestEvidence] = None
    recall: Optional[RecallEvidence] = None

    @property
    def tone(self) -> str:
        return TONES[self.state]

    @property
    def green(self) -> bool:
        return self.state == SELLABLE


def decide(e: Evidence) -> Verdict:
    """The one verdict: recalled, else not to be sold as a GI product, else suspicious, else sellable.

    Reasons of lower states are kept (a failed batch whose code was copied lists both), so a page can
    say everything that applies under one headline.
    """
    reasons: list[str] = []
    if e.recall is not None:
        reasons.append(RECALL)
    if e.test.state == "failed":
        reasons.append(TEST_FAILED)
    elif e.test.state == "ungraded":
        reasons.append(TEST_UNGRADED)
    elif not e.test.passed:
        reasons.append(UNTESTED)
    if not e.status_made.in_force:
        reasons.append(NOT_AUTHORISED_MADE)
    if not e.status_today.in_force:
        reasons.append(NOT_AUTHORISED_TODAY)
    if e.origin_state == "declared":
        reasons.append(ORIGIN_DECLARED)
    elif e.origin_state != "verified":
        reasons.append(ORIGIN_OUTSIDE)
    if not e.record_verifies:
        reasons.append(RECORD_BROKEN)
    if e.code_flagged:
        reasons.append(CODE_FLAGGED)
    if RECALL in reasons:
        state = RECALLED
    elif any(r not in (RECORD_BROKEN, CODE_FLAGGED) for r in reasons):
        state = NOT_GI
    elif reasons:
        state = SUSPICIOUS
    else:
        state = SELLABLE
    return Verdict(state=state, reasons=tuple(reasons), test=e.test, recall=e.recall)


def for_page(page: Any, test: TestEvidence, recall: Optional[RecallEvidence], *, verifies: bool,
             flagged: bool) -> Verdict:
    """The verdict of a scan page (scan.read_path.TracePage) with the record's chain check and the code's
    counterfeit flag."""
    return decide(Evidence(test=test, recall=recall, status_today=page.status_today, status_made=page.status_made,
                           origin_state=page.origin_state, origin_break=page.origin_break,
                           record_verifies=verifies, code_flagged=flagged))
