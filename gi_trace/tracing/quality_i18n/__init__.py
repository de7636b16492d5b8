"""Measured tests and computed verdicts keep their own Chinese catalog here (translations/zh)."""
