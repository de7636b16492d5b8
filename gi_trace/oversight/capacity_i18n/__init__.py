"""Chinese for the regulators' 以地定产、以产核标 page and the marked_over_supply flag (translations/zh)."""
