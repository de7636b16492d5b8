"""What every response must carry: the security headers, checked by the header and matrix tests."""
from __future__ import annotations

import re

REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I)


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = [w.lower() for w in words[1:]]
    return directives


def header_problems(response) -> list[str]:
    """Why a response's headers fall short (empty when they are right)."""
    problems = []
    h = response.headers
    csp = h.get("Content-Security-Policy")
    if not csp:
        problems.append("no Content-Security-Policy")
    else:
        d = csp_directives(csp)
        scripts = d.get("script-src", d.get("default-src"))
        if scripts is None:
            problems.append("CSP allows scripts from anywhere (no script-src or default-src)")
        elif {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(scripts):
            problems.append(f"CSP script-src too wide: {scripts}")
        if d.get("object-src", d.get("default-src")) not in (["'none'"], ["'self'"]):
            problems.append("CSP lets plugins load from elsewhere")
        if d.get("frame-ancestors") != ["'none'"] and h.get("X-Frame-Options") != "DENY":
            problems.append("framing not denied")
    if h.get("X-Frame-Options") != "DENY":
        problems.append("X-Frame-Options is not DENY")
    if h.get("X-Content-Type-Options") != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    if h.get("Referrer-Policy") not in REFERRER_POLICIES:
        problems.append(f"Referrer-Policy {h.get('Referrer-Policy')!r}")
    return problems


def html_problems(response) -> list[str]:
    """Inline script, event-handler attributes or style attributes the CSP would block."""
    if response.mimetype != "text/html":
        return []
    html = response.get_data(as_text=True)
    return [f"{name}: {m.group(0)[:80]}" for name, rx in (("inline script", INLINE_SCRIPT),
                                                           ("event handler", EVENT_HANDLER),
                                                           ("style attribute", STYLE_ATTRIBUTE))
            for m in [rx.search(html)] if m]
