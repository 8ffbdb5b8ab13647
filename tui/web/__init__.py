"""The dashboard in a browser (``pixverse-tui serve``, the optional ``web`` extra)."""
