"""Alembic environment for the ledger. Run through ``flows.adapters.ledger.Ledger.migrate()`` (no alembic.ini needed).

The caller passes an open SQLAlchemy connection in ``config.attributes["connection"]``; offline mode
(``alembic upgrade --sql``) uses ``sqlalchemy.url`` from the config.
"""

from __future__ import annotations

from alembic import context

config = context.config
target_metadata = None  # the schema is defined by the migration scripts themselves


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        engine.dispose()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
