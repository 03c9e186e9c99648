"""Relational persistence (SQLAlchemy 2 Core): SQLite embedded, PostgreSQL at scale."""
