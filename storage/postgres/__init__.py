"""Team mode: the store on a PostgreSQL server (the optional ``postgres`` extra).

Importing this package never imports asyncpg: settings can be read and URLs
checked on a machine without the extra; only opening a store needs it
(``storage.factory`` imports ``storage.postgres.store`` then).
"""
