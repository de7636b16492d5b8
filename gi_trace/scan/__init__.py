"""The consumer's scan: the public trace page, scan counting, counterfeit signals and complaints."""
