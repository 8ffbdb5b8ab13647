"""Following tasks until they end: the poller, its sweeps and lease, the shared request
budget, and what happens when tasks end.
"""
