"""Batch traceability: batches, stage events, lineage, codes, QR images and labels."""
