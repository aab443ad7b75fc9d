"""Database models and session handling (SQLAlchemy 2)."""
