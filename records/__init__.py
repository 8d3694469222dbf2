"""The records: SQLAlchemy models, Alembic migrations, importers, the certification rules and
report queries, importing no other SafeTrain package."""
