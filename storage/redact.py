"""Secrets kept out of everything stored and everything shown.

An error's text can quote a request's headers: an HTTP library naming the header
it refused, a proxy echoing the request back.  Every error or note the store
writes, and every error the command line or the dashboard shows, passes through
:func:`scrub` — one place — so a ``Bearer …`` credential, anything shaped like a
DashScope key (``sk-…``) and every key this process was given become
``[key hidden]`` before they can reach a row, a log or a screen.
"""

from __future__ import annotations

import re

HIDDEN = "[key hidden]"
# The columns of a generation that hold error and note texts (which may quote request
# headers): every backend scrubs them, and status events' details, when it writes them.
SCRUBBED = frozenset({"submission_note", "error_message", "poll_error", "download_error"})
# (compiled by ``re`` when text is first scrubbed: ``list`` prints its rows without)
_TOKENS = r"(?i)(\bbearer\s+)[^\s'\",;()\[\]{}]+|\bsk-[A-Za-z0-9_\-]{8,}"
_SECRETS: set[str] = set()
_SHORTEST = 8  # a "secret" shorter than this would blank ordinary words


def remember(secret: str) -> None:
    """Hide ``secret`` wherever :func:`scrub` runs in this process (the API key in use)."""
    if len(secret) >= _SHORTEST:
        _SECRETS.add(secret)


def scrub(text: str) -> str:
    """``text`` with every credential in it replaced by ``[key hidden]``."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    lowered = text.casefold()  # (as the pattern's (?i) matches: ſ and K too)
    if "sk-" not in lowered and "bearer" not in lowered:  # (nothing for the pattern to find)
        return text
    return re.sub(_TOKENS, lambda m: (m.group(1) or "") + HIDDEN, text)


def scrub_optional(text: str | None) -> str | None:
    return None if text is None else scrub(text)
