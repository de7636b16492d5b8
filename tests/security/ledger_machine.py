"""What the mass-balance state machines share: a clock, amounts, running an operation in its own transaction,
the split/merge/processing rules and the checks every batch must pass after every step.

A machine subclasses `LedgerMachine`, says who acts on a batch (`user_for`) and adds its own rules and
invariants; a test binds it to its session and parties (`bind`), which exist only inside the test.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule, run_state_machine_as_test
from sqlmodel import select

from gi_trace.errors import DomainError
from gi_trace.tracing import rules as trules
from gi_trace.tracing import services
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.services.ledger import _project

EPS = 0.002
START = datetime(2025, 7, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
KG = st.floats(min_value=0.5, max_value=2000, allow_nan=False).map(lambda x: round(x, 3))
FRACTION = st.floats(min_value=0.05, max_value=1.3, allow_nan=False)  # > 1 asks for more than there is
# Most operations take operands they fit (a batch that holds something, a partner of the same form, a
# batch that can still be dried); one in five takes what the bundle drew as it is (maybe emptied, twice the
# same, the wrong form or stage), so the services' refusals are exercised too.
AIMED = st.integers(0, 9).map(lambda n: n < 8)
BATCHES = Bundle("batches")


class LedgerMachine(RuleBasedStateMachine):
    """Operations on batches through the real services; set `session`, `stats` and `clock` with `bind`."""

    session = None
    stats: dict = None
    clock = itertools.count()
    batches = BATCHES

    def __init__(self):
        super().__init__()
        self.codes: list[str] = []

    @classmethod
    def bind(cls, session, stats: dict, **attributes):
        """This machine over a test's session; its counts go to `stats`, its clock starts at START."""
        return type(cls.__name__, (cls,), {"session": session, "stats": stats, "clock": itertools.count(),
                                           **attributes})

    def user_for(self, batch: Batch):
        """Who acts on the batch."""
        raise NotImplementedError

    def when(self) -> str:
        """A time one hour after the last one this machine used."""
        return (START + timedelta(hours=next(self.clock))).isoformat()

    def _do(self, kind: str, operation):
        """Run one operation; a refusal leaves nothing behind (the whole op is rolled back)."""
        try:
            result = operation()
            self.session.commit()
        except DomainError:
            self.session.rollback()
            self.stats[f"{kind} refused"] = self.stats.get(f"{kind} refused", 0) + 1
            return None
        self.stats[kind] = self.stats.get(kind, 0) + 1
        return result

    def _batch(self, code: str) -> Batch:
        return self.session.exec(select(Batch).where(Batch.code == code)).one()

    def _fitting(self, data, fits, otherwise):
        """A batch this machine made that `fits` (drawn among those), or `otherwise` when none does."""
        if not self.codes:
            return otherwise
        rows = {b.code: b for b in self.session.exec(select(Batch).where(Batch.code.in_(self.codes))).all()}
        candidates = [c for c in self.codes if fits(rows[c])]  # in the order made: the same on every database
        return data.draw(st.sampled_from(candidates)) if candidates else otherwise

    def _made(self, result, otherwise):
        """The first batch an accepted operation made (all of them kept), or `otherwise` after a refusal."""
        if result:
            self.codes += [c.code for c in result.children]
            return result.children[0].code
        return otherwise

    @rule(target=BATCHES, code=BATCHES, fractions=st.lists(FRACTION, min_size=1, max_size=3), aimed=AIMED,
          data=st.data())
    def split(self, code, fractions, aimed, data):
        if aimed:
            code = self._fitting(data, holds, code)
        if not code:
            return code
        batch = self._batch(code)
        parts = [{"quantity_kg": round(batch.available_kg * f / len(fractions), 3) or 0.001}
                 for f in fractions]
        return self._made(self._do("split", lambda: services.split(
            self.session, self.user_for(batch), batch, parts, occurred_at=self.when())), code)

    @rule(target=BATCHES, a=BATCHES, b=BATCHES, fa=st.none() | FRACTION, aimed=AIMED,
          across=st.integers(0, 9).map(lambda n: n < 2), data=st.data())
    def merge(self, a, b, fa, aimed, across, data):
        if aimed:  # two distinct batches of one owner, of one form, both holding something
            a = self._fitting(data, holds, a)
            first = self._batch(a) if a else None

            def partner(x: Batch) -> bool:
                if across:  # now and then, where there is one, another owner's batch (refused)
                    return holds(x) and x.producer_id != first.producer_id
                return holds(x) and x.code != first.code and (x.producer_id, x.product_form) == (
                    first.producer_id, first.product_form)
            b = self._fitting(data, partner, b) if first else b
        if not a or not b:
            return a
        ba, bb = self._batch(a), self._batch(b)
        wanted = None if fa is None else round(ba.available_kg * fa, 3) or 0.001
        # The owner of the first batch merges: another owner's batch is refused (not found), counted apart.
        kind = "merge" if ba.producer_id == bb.producer_id else "merge across owners"
        return self._made(self._do(kind, lambda: services.merge(
            self.session, self.user_for(ba), [(ba, wanted), (bb, None)], occurred_at=self.when())), a)

    @rule(target=BATCHES, code=BATCHES, yields=st.lists(FRACTION, min_size=1, max_size=2), aimed=AIMED,
          data=st.data())
    def process(self, code, yields, aimed, data):
        if aimed:  # processing comes before distribution
            code = self._fitting(data, lambda b: holds(b) and b.stage != "distribution", code)
        if not code:
            return code
        batch = self._batch(code)
        outputs = [{"quantity_kg": round(batch.available_kg * y / len(yields), 3) or 0.001,
                    "product_form": "powder"} for y in yields]
        return self._made(self._do("processing", lambda: services.transform(
            self.session, self.user_for(batch), [(batch, None)], outputs, occurred_at=self.when(),
            extra={"product_form": "powder"})), code)

    def checked(self, batch: Batch) -> tuple[float, float]:
        """(harvested, distributed) kilograms of the batch's effective events, after checking that it has not
        sent out more than it holds and that its projection columns equal a fresh fold of its events."""
        assert batch.out_kg <= batch.quantity_kg + EPS, (batch.code, batch.quantity_kg, batch.out_kg)
        events = self.session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
        effective = trules.effective_events(list(events))
        fold = _project(self.session, batch, list(events))
        assert (round(fold.quantity_kg, 3), round(fold.out_kg, 3)) == (
            round(batch.quantity_kg, 3), round(batch.out_kg, 3)), batch.code
        return (sum(e.quantity_kg or 0 for e in effective if e.stage == "harvest"),
                sum(e.quantity_kg or 0 for e in effective if e.stage == "distribution"))


def holds(batch: Batch) -> bool:
    """The batch has kilograms to give."""
    return batch.available_kg > EPS


def run(machine, max_examples: int, steps: int) -> None:
    """Run the machine's sequences, the same ones on every run (derandomized, no example database)."""
    run_state_machine_as_test(machine, settings=settings(
        max_examples=max_examples, stateful_step_count=steps, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck)))
