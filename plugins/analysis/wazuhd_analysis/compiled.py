"""Wazuh's compiled rules (``<compiled_rule>``): small built-in predicates."""

from __future__ import annotations

__all__ = ["COMPILED_RULES"]

# Address blocks of the well-known search engine crawlers (Google, MSN/Bing,
# Yahoo) that Wazuh's is_valid_crawler recognises at the start of the log.
_CRAWLER_PREFIXES = (
    "66.249.", "72.14.", "209.85.",  # Google
    "65.55.", "207.46.",  # MSN / Bing
    "74.6.", "72.30.", "67.195.",  # Yahoo
)


def is_simple_http_request(ev) -> bool:
    """A plain request: a URL with no query string."""
    url = ev.get("url")
    if not url or "?" in url:
        return False
    return True


def is_valid_crawler(ev) -> bool:
    """The request comes from a well-known search engine crawler's address."""
    return ev.log.startswith(_CRAWLER_PREFIXES) or (ev.get("srcip") or "").startswith(_CRAWLER_PREFIXES)


COMPILED_RULES = {
    "is_simple_http_request": is_simple_http_request,
    "is_valid_crawler": is_valid_crawler,
}
