"""Database tables and queries (PostgreSQL, MySQL/MariaDB, SQLite) into Delta tables:
``lake ingest db``."""
