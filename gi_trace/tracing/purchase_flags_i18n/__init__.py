# Chinese messages of the plausibility flag on purchases from sellers not on the register (tracing.transfers).
