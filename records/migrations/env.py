"""Alembic environment: the engine comes from records.db (never from an ini file)."""

from alembic import context

from records.db import make_engine
from records.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite needs batch ALTERs; PostgreSQL runs them as plain ALTER
            compare_type=True,
        )
        context.run_migrations()


run_migrations()
