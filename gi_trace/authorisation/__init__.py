"""Authorisations to use the GI special mark: an append-only history of decisions."""
