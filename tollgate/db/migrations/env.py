"""Alembic environment: migrations run against the URL the caller puts in the config."""

from alembic import context

import tollgate.db.access_models  # noqa: F401  (registers the stored idempotent answers)
import tollgate.db.billing_models  # noqa: F401  (registers the billing tables)
import tollgate.db.ops_models  # noqa: F401  (registers the request log)
import tollgate.db.webhook_models  # noqa: F401  (registers the webhook tables)
from tollgate.db.engine import make_engine
from tollgate.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
