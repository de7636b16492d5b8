"""Chinese for the 承诺达标合格证 of a sale to an unregistered buyer (translations/zh)."""
