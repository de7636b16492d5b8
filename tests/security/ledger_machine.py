"""What the mass-balance state machines share: a clock, amounts, running an operation in its own transaction,
the split/merge/processing rules and the checks every batch must pass after every step.

A machine subclasses `LedgerMachine`, says who acts on a batch (`user_for`) and adds its own rules and invariants;
a test binds it to its session and parties (`bind`), which exist only inside the test.
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

    def _made(self, result, otherwise):
        """The first batch an accepted operation made (all of them kept), or `otherwise` after a refusal."""
        if result:
            self.codes += [c.code for c in result.children]
            return result.children[0].code
        return otherwise

    @rule(target=BATCHES, code=BATCHES, fractions=st.lists(FRACTION, min_size=1, max_size=3))
    def split(self, code, fractions):
        if not code:
            return code
        batch = self._batch(code)
        parts = [{"quantity_kg": round(batch.available_kg * f / len(fractions), 3) or 0.001} for f in fractions]
        return self._made(self._do("split", lambda: services.split(
            self.session, self.user_for(batch), batch, parts, occurred_at=self.when())), code)

    @rule(target=BATCHES, a=BATCHES, b=BATCHES, fa=st.none() | FRACTION)
    def merge(self, a, b, fa):
        if not a or not b:
            return a
        ba, bb = self._batch(a), self._batch(b)
        wanted = None if fa is None else round(ba.available_kg * fa, 3) or 0.001
        # The owner of the first batch merges: another owner's batch is refused (not found).
        return self._made(self._do("merge", lambda: services.merge(
            self.session, self.user_for(ba), [(ba, wanted), (bb, None)], occurred_at=self.when())), a)

    @rule(target=BATCHES, code=BATCHES, yields=st.lists(FRACTION, min_size=1, max_size=2))
    def process(self, code, yields):
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


def run(machine, max_examples: int, steps: int) -> None:
    """Run the machine's sequences, the same ones on every run (derandomized, no example database)."""
    run_state_machine_as_test(machine, settings=settings(
        max_examples=max_examples, stateful_step_count=steps, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck)))
