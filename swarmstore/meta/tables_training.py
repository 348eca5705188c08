"""SQL tables for datasets and experiments (issue 4). Filled in by the lifecycle work."""

from __future__ import annotations
