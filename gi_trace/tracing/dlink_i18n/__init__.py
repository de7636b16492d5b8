"""Chinese for GS1 Digital Link labels and the GS1-conformant resolver (translations/zh)."""
