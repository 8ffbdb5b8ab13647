"""Where the service is, and whether a base URL can be used — without importing httpx
(the configuration is read by every command; httpx is loaded by the first request)."""

from __future__ import annotations

BEIJING_URL = "https://dashscope.aliyuncs.com/api/v1"


def base_url_problem(url: str) -> str | None:
    """Why a base URL cannot be used, as part of a sentence; None when it can.  (URLs are
    parsed as the client will parse them: by httpx, loaded only when a URL is given.)"""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "it holds a space or a control character"
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"it is not a URL ({exc})"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "it must start with https:// (or http://) and name a host"
    return None
