"""The scan page's verdict (scan.verdict, scan.page_text) keeps its own Chinese catalog here (translations/zh)."""
