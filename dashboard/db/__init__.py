"""Storage: engine and sessions, encrypted secrets, Alembic migrations."""
