"""The GI register: regions, GI products, producers, plots, output and official totals."""
