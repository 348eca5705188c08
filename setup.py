"""Packaging glue that pyproject.toml cannot say: the top-level ``migrations/``
directory ships inside the wheel as the package ``swarmstore_migrations``."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["swarmstore", "swarmstore.*"]),
        "swarmstore_migrations",
        "swarmstore_migrations.versions",
    ],
    package_dir={"swarmstore_migrations": "migrations"},
)
