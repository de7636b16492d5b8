"""Chinese translations of the recall (tracing.recall, the recall pages and notices)."""
