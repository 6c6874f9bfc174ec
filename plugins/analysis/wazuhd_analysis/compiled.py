"""Wazuh's compiled rules (``<compiled_rule>``): small built-in predicates."""

from __future__ import annotations

__all__ = ["COMPILED_RULES"]

_CRAWLERS = (
    "googlebot", "msnbot", "bingbot", "bingpreview", "yahoo! slurp", "slurp",
    "baiduspider", "yandexbot", "duckduckbot", "facebookexternalhit",
)


def is_simple_http_request(ev) -> bool:
    """A plain request: a URL with no query string."""
    url = ev.get("url")
    if not url or "?" in url:
        return False
    return True


def is_valid_crawler(ev) -> bool:
    """The request comes from a well-known search engine crawler."""
    low = ev.full_log.lower()
    return any(c in low for c in _CRAWLERS)


COMPILED_RULES = {
    "is_simple_http_request": is_simple_http_request,
    "is_valid_crawler": is_valid_crawler,
}
