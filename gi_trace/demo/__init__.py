"""The demo dataset: a realistic register (registry_data) and traced batches (batches), loaded by
`flask --app gi_trace demo-data` (cli). It spans every area, so it sits above them with the app."""
