"""Alembic migrations of the portal's database (run by ``greenroom db upgrade`` and at start-up).

``HEAD`` names the newest revision, so that a portal whose database is already there starts with
one small query and without importing Alembic; a test checks it against Alembic's own answer.
Add a revision with ``alembic -x ... revision`` style tooling or by hand (copy the newest file),
then update ``HEAD``.
"""

HEAD = "0003"
