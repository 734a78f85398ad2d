"""Alembic migrations of the portal's database (run by ``greenroom db upgrade`` and at start-up)."""
