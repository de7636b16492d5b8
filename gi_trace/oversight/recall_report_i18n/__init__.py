"""Chinese for what the annual report says the year's recalls reached (translations/zh)."""
