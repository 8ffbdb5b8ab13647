"""Background work between the client and the store: submit, poll, download, resolve.

No Textual here: the dashboard and the command line drive the same code.
"""
