"""The history: export and import, statistics, service times, and the trash.
"""
