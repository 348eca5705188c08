"""Validation of user-given ids (swarm, model, version, agent).

Ids end up in SQL, in URLs of object stores and in file names of exports, so
path separators, control characters and surprising lengths are refused.
"""

from __future__ import annotations

import unicodedata

from swarmstore.errors import InvalidIdentifierError

ID_LENGTH = 200  # ids are validated to at most this many characters (meta sizes columns by it)


def validate_id(kind: str, value: object) -> str:
    """Return ``value`` when it is a usable id, else raise naming ``kind``."""
    if not isinstance(value, str):
        raise InvalidIdentifierError(f"{kind} must be a string, not {type(value).__name__}")
    if not value or value.strip() != value:
        raise InvalidIdentifierError(f"{kind} {value!r} must be non-empty without outer spaces")
    if len(value) > ID_LENGTH:
        raise InvalidIdentifierError(f"{kind} is {len(value)} characters; at most {ID_LENGTH}")
    if value in (".", "..") or "/" in value or "\\" in value:
        raise InvalidIdentifierError(f"{kind} {value!r} must not contain path separators")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
        raise InvalidIdentifierError(f"{kind} {value!r} contains control or unassigned characters")
    return value
