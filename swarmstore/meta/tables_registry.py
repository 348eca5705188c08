"""SQL tables for the registry, approvals, audit trail and deployments (issue 4)."""

from __future__ import annotations
