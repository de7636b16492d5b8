"""Oversight: the 专栏4 shares, inspections, complaints, anomalies and the annual report."""
