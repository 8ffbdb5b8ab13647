"""Dialogs: small modal screens that ask one thing (or show one thing) and return.

Apart from the screens: a dialog knows nothing of who opened it; it returns its
answer (``dismiss``), and the opener decides what it means.
"""
