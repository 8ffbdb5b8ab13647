"""Sending: one prompt or a batch, each create recorded before it leaves; templates, prices
and budgets; settling creates whose outcome is unknown.
"""
