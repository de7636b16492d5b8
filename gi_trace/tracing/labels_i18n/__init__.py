"""The labels-and-portal half of tracing keeps its own Chinese catalog here (translations/zh)."""
