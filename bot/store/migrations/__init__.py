"""Alembic migration scripts of roundup, run from code by `bot.store.migrate`."""
