"""Registered codec names -> codec classes.

Two kinds of codec are chained in a frame (zarr-style, one transform each):

- *transforms* (``delta``, ``signbit``, ``planes``) map a chunk's bytes to bytes
  of the same length (the ``planes`` transform regroups bytes so that plane
  ``i`` of every element is contiguous); ``decay``, before ``delta``, maps the
  base instead (the prediction the delta is taken against);
- *stream coders* (``raw``, ``zstd``, ``zstd-lit``, ``lz4``, ``nibpairs``,
  ``huff``, ``huff16``, ``huff32``) compress one plane (``huff16`` / ``huff32``:
  a whole 2- / 4-byte delta).

Every codec has a registered ``codec_id`` and a JSON-able ``config``; the frame
header stores ``{"id": codec_id, **config}`` so a later swarmstore can rebuild
the codec with ``from_config``. Names, once written, are never reused.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeVar

from swarmstore.errors import CodecError, UnknownCodecError


class Codec(Protocol):
    codec_id: str

    @property
    def config(self) -> dict[str, Any]: ...

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Codec: ...


class Parameterless:
    """Base of a stream coder without parameters: its config is ``{}`` and any other
    config in a frame header is refused."""

    __slots__ = ()
    codec_id: ClassVar[str]

    @property
    def config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        if config:
            raise CodecError(f"bad {cls.codec_id} config {config!r}")
        return cls()


_REGISTRY: dict[str, type[Any]] = {}
C = TypeVar("C", bound=type[Any])


def register(cls: C) -> C:
    """Class decorator: make ``cls`` decodable under its ``codec_id``."""
    name = cls.codec_id
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"codec id {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def codec_from_json(spec: object) -> Any:
    """Rebuild a codec from its header entry ``{"id": ..., **config}``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("id"), str):
        raise CodecError(f"malformed codec entry in frame header: {spec!r}")
    config = dict(spec)
    codec_id = config.pop("id")
    cls = _REGISTRY.get(codec_id)
    if cls is None:
        raise UnknownCodecError(codec_id)
    try:
        return cls.from_config(config)
    except CodecError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise CodecError(f"bad config for codec {codec_id!r}: {config!r} ({exc})") from None


def codec_to_json(codec: Any) -> dict[str, Any]:
    return {"id": codec.codec_id, **codec.config}
