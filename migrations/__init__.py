"""Alembic revisions of the swarmstore schema (installed as ``swarmstore_migrations``)."""
