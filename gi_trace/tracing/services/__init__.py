"""Batch tracing services: plain functions over a session that add and flush, never commit.

The modules follow the seams of the work: who may see a batch (`visibility`), the authorisation and
GI-label gates (`gates`), opening a batch (`batches`), a batch's ledger of chained events (`ledger`),
recording and withdrawing (`events`), plausibility flags (`flags`) and split/merge/transform
(`lineage_ops`). Callers use the names re-exported here; rules are in `tracing.rules`, the hash chain
in `tracing.chain`.
"""
from gi_trace.tracing.services.batches import BatchInput, open_batch
from gi_trace.tracing.services.clearance import clear_failure
from gi_trace.tracing.services.events import EventInput, judge_test, record_event, withdraw
from gi_trace.tracing.services.flags import (
    check_label_quantity,
    flags_for,
    open_flags,
    plausibility,
    producer_area_mu,
    raise_flag,
    review_flag,
    reviewable_flag,
    season_harvest_kg,
)
from gi_trace.tracing.services.gates import (
    LabelPermission,
    authorisation_refusal,
    label_allowed,
    require_authorised,
    recall_refusal,
    require_label_allowed,
    require_not_recalled,
)
from gi_trace.tracing.services.recalls import lift as lift_recall
from gi_trace.tracing.services.ledger import lock_batch, parse_location, template_of
from gi_trace.tracing.services.lineage_ops import MAX_PARTS, LineageResult, merge, split, transform
from gi_trace.tracing.services.visibility import batch_by_code, can_see_batch, own_batch, visible_batch

__all__ = [
    "MAX_PARTS", "BatchInput", "EventInput", "LabelPermission", "LineageResult",
    "authorisation_refusal", "batch_by_code", "can_see_batch", "check_label_quantity", "clear_failure", "flags_for",
    "judge_test", "label_allowed", "lift_recall", "lock_batch", "merge", "open_batch", "open_flags", "own_batch",
    "parse_location", "plausibility", "producer_area_mu", "raise_flag", "recall_refusal", "record_event", "require_authorised",
    "require_label_allowed", "require_not_recalled", "review_flag", "reviewable_flag", "season_harvest_kg", "split",
    "template_of", "transform",
    "visible_batch", "withdraw",
]
