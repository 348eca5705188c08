"""Lineage node keys back into their parts (``meta.lineage.node_key`` makes them)."""

from __future__ import annotations


def parse_key(key: str) -> tuple[str, str, str, str | None]:
    """``Kind:swarm/id[/version]`` -> (kind, swarm_id, id, version)."""
    kind, _, rest = key.partition(":")
    parts = rest.split("/")
    if not kind or len(parts) not in (2, 3):
        raise ValueError(f"not a lineage node key: {key!r}")
    return kind, parts[0], parts[1], parts[2] if len(parts) == 3 else None
