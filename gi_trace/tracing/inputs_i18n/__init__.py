"""Chinese for inputs per plot and season (tracing.services.inputs, the portal pages, the scan section)."""
