"""Alembic's entry point for roundup: run migrations on the connection it is handed.

What it does: configures Alembic with the connection `bot.store.migrate` put in the
config's attributes and runs the pending scripts in that connection's transaction
(SQLite in batch mode, so later scripts can alter tables).
What it does not do: connect by itself, read alembic.ini, or run offline (SQL output).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.store.schema import metadata


def run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("roundup's migrations do not support offline (--sql) mode")
_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError(
        "roundup's migrations run through the application: use `roundup db upgrade` "
        "(or bot.store.open_store(url).upgrade()), not the alembic command"
    )
run_online(_connection)
