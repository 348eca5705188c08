"""The training-dataset record (the seed's ``TrainingDataset``) and the pieces
every lifecycle record shares: ``CheckedRecord`` turns pydantic's
``ValidationError`` into an ``InvalidRecordError`` that names the field.

Samples hold numpy arrays, ``bytes`` (encoded images, audio) or ``str`` (text).
In JSON an array becomes ``{"kind": "ndarray", "dtype", "shape", "data": base64}``
and bytes ``{"kind": "bytes", "data": base64}``; both are read back bit-exactly.
Bulk storage of samples is ``swarmstore.datasets.columnar`` (Parquet), not JSON.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from swarmstore.errors import InvalidFieldError as InvalidFieldError  # re-exported: its old home
from swarmstore.records.base import Record, utc_now

DataType = Literal["supervised", "unsupervised", "reinforcement", "meta-learning"]
DataFormat = Literal["tensor", "image", "text", "audio", "graph"]
SplitName = Literal["training", "validation", "test"]
SPLIT_NAMES: tuple[SplitName, ...] = ("training", "validation", "test")

# numpy kinds whose raw bytes plus dtype string restore the array exactly
# (no object arrays: those would need pickle).
ARRAY_KINDS = frozenset("biufc")


# --------------------------------------------------------------------------- errors


class InvalidSplitError(InvalidFieldError):
    """Split indices overlap, repeat, are negative or point past the last sample."""


def _join(*parts: object) -> str:
    return ".".join(str(p) for p in parts if p not in (None, ""))


def invalid_record_error(model: str, exc: ValidationError) -> InvalidFieldError:
    """One typed error for all of pydantic's findings; its class is that of the
    first typed cause raised in a validator (e.g. ``NonFiniteValueError``)."""
    pairs: list[tuple[str, str]] = []
    cls: type[InvalidFieldError] = InvalidFieldError
    for err in exc.errors(include_url=False):
        loc = _join(*err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidFieldError):
            if cls is InvalidFieldError:
                cls = type(cause)
            # A nested CheckedRecord already converted its own errors (pydantic
            # runs its custom __init__): re-root them here.
            inner = cause.errors or [(cause.field or "", cause.message)]
            pairs.extend((_join(loc, f.replace("<record>", "")) or "<record>", m) for f, m in inner)
            continue
        msg = err["msg"].removeprefix("Value error, ")
        pairs.append((loc or "<record>", msg))
    text = "; ".join(f"{loc}: {msg}" for loc, msg in pairs)
    return cls(f"invalid {model}: {text}", field=pairs[0][0] if pairs else None, errors=pairs)


class CheckedRecord(Record):
    """A ``Record`` whose construction, ``model_validate*`` and assignment raise
    ``InvalidFieldError`` (an ``InvalidRecordError``) instead of pydantic's error,
    so callers catch one swarmstore type and read ``.field``.

    NaN and infinities (diverged losses) are written to JSON as the strings
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, which strict JSON stores
    (PostgreSQL JSONB) accept and validation reads back as floats."""

    model_config = ConfigDict(ser_json_inf_nan="strings")

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid_record_error(type(self).__name__, exc) from exc

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise invalid_record_error(cls.__name__, exc) from exc

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise invalid_record_error(cls.__name__, exc) from exc

    def to_json_dict(self) -> dict[str, object]:
        """camelCase, strict-JSON dict (non-finite floats as strings, see above)."""
        data: dict[str, object] = json.loads(self.model_dump_json())
        return data

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise invalid_record_error(type(self).__name__, exc) from exc


class CheckedOpenRecord(CheckedRecord):
    """A nested ``CheckedRecord`` that keeps keys it does not know."""

    model_config = ConfigDict(extra="allow")


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, so that ordering checks never raise."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def require_finite(value: float | None, field: str) -> float | None:
    """Reject NaN/inf where a number must be a real measurement."""
    if value is not None and not math.isfinite(value):
        raise InvalidFieldError(f"must be finite, got {value!r}", field=field)
    return value


# --------------------------------------------------------------------------- samples


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def coerce_sample(value: Any) -> np.ndarray | bytes | str:
    """Normalize one sample: ndarray (numeric, any shape), bytes or str.

    Lists, scalars and objects with ``__array__`` (CPU torch tensors) become
    arrays; the JSON tagged forms are decoded."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Mapping):
        kind = value.get("kind")
        try:
            if kind == "bytes":
                return base64.b64decode(value["data"], validate=True)
            if kind == "ndarray":
                raw = base64.b64decode(value["data"], validate=True)
                dtype = np.dtype(value["dtype"])
                shape = tuple(int(d) for d in value["shape"])
                if dtype.kind not in ARRAY_KINDS:
                    raise ValueError(f"dtype {dtype.str!r} is not numeric")
                return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed {kind} sample: {exc}") from exc
        raise ValueError("a sample mapping needs kind 'ndarray' or 'bytes'")
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:  # ragged lists, unsupported tensors
            raise ValueError(f"cannot read sample as an array: {exc}") from exc
    if array.dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"sample arrays must be numeric or bool, got dtype {array.dtype.str!r}")
    return array


def sample_to_json(value: np.ndarray | bytes | str | None) -> Any:
    """The tagged JSON form of a sample (inverse of ``coerce_sample``)."""
    if isinstance(value, np.ndarray):
        return {
            "kind": "ndarray",
            "dtype": value.dtype.str,
            "shape": list(value.shape),
            "data": _b64(np.ascontiguousarray(value).tobytes()),
        }
    if isinstance(value, bytes):
        return {"kind": "bytes", "data": _b64(value)}
    return value


_SAMPLE_JSON_SCHEMA: dict[str, Any] = {
    "description": "a sample: text, or a base64 ndarray / bytes object",
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {
                "kind": {"enum": ["ndarray", "bytes"]},
                "dtype": {"type": "string", "description": "numpy dtype string, e.g. '<f4'"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "data": {"type": "string", "contentEncoding": "base64"},
            },
            "required": ["kind", "data"],
        },
    ],
}

SampleValue = Annotated[
    Any,
    BeforeValidator(coerce_sample),
    PlainSerializer(sample_to_json, when_used="json"),
    WithJsonSchema(_SAMPLE_JSON_SCHEMA),
]
OptionalSampleValue = Annotated[
    Any,
    BeforeValidator(lambda v: None if v is None else coerce_sample(v)),
    PlainSerializer(sample_to_json, when_used="json"),
    WithJsonSchema({"anyOf": [_SAMPLE_JSON_SCHEMA, {"type": "null"}]}),
]


def _label(value: Any) -> Any:
    # Class ids are often ints; labels are stored as text (the seed's string[]).
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    return value


Label = Annotated[str | None, BeforeValidator(_label)]


class DatasetSamples(CheckedRecord):
    """Parallel per-sample columns; ``outputs``/``labels``/``metadata`` are absent
    (None) or exactly as long as ``inputs``. A ``None`` label is a missing label."""

    inputs: list[SampleValue] = Field(default_factory=list)
    outputs: list[OptionalSampleValue] | None = None
    labels: list[Label] | None = None
    metadata: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        n = len(self.inputs)
        for name in ("outputs", "labels", "metadata"):
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise InvalidFieldError(f"has {len(column)} entries but inputs has {n}", field=name)
        return self

    def __len__(self) -> int:
        return len(self.inputs)

    def as_array(self, column: Literal["inputs", "outputs"] = "inputs") -> np.ndarray:
        """The column stacked into one array (samples of one shape and dtype);
        ``ValueError`` for text, bytes or ragged samples."""
        values = self.inputs if column == "inputs" else self.outputs
        if values is None or any(not isinstance(v, np.ndarray) for v in values):
            raise ValueError(f"{column} are not all arrays; read them one by one")
        if not values:
            return np.empty((0,))
        return np.stack(values)


# --------------------------------------------------------------------------- statistics


class QualityReport(Record):
    """Each defect counted separately; ``score`` combines them by ``method``.

    swarmstore.quality/1: ``score = usable_fraction * (1 - 0.5 * class_imbalance)``
    where a sample is unusable when it is a duplicate of an earlier one, lacks a
    required label, holds NaN/inf, or is empty; ``class_imbalance`` is
    ``1 - H(labels) / log(class_count)`` (0 when balanced or fewer than 2 classes).
    """

    method: str = "swarmstore.quality/1"
    sample_count: int = Field(ge=0)
    duplicate_samples: int = Field(ge=0, description="identical to an earlier sample")
    missing_labels: int = Field(ge=0)
    non_finite_samples: int = Field(ge=0, description="inputs or outputs hold NaN/inf")
    empty_samples: int = Field(ge=0, description="zero-size array, empty bytes, blank text")
    class_count: int = Field(ge=0)
    class_imbalance: float = Field(ge=0.0, le=1.0)
    usable_fraction: float = Field(ge=0.0, le=1.0)
    score: float = Field(ge=0.0, le=1.0)


class DatasetStatistics(CheckedRecord):
    """Seed statistics. Dimensions use -1 for an axis whose length varies by sample."""

    total_samples: int | None = Field(default=None, ge=0)
    input_dimensions: list[int] = Field(default_factory=list)
    output_dimensions: list[int] | None = None
    data_distribution: dict[str, float] = Field(
        default_factory=dict, description="label -> number of samples"
    )
    quality_score: float | None = Field(default=None, ge=0.0, le=1.0)
    quality: QualityReport | None = None


# --------------------------------------------------------------------------- splits


class DatasetSplits(CheckedRecord):
    """Sample indices per split: non-negative, unique and pairwise disjoint."""

    training: list[int] = Field(default_factory=list)
    validation: list[int] = Field(default_factory=list)
    test: list[int] = Field(default_factory=list)

    @field_validator("training", "validation", "test")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        seen: set[int] = set()
        for position, index in enumerate(value):
            if index < 0:
                raise InvalidSplitError(f"index {index} is negative", field=str(position))
            if index in seen:
                raise InvalidSplitError(f"index {index} appears twice", field=str(position))
            seen.add(index)
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        check_splits(self, None)
        return self

    def as_dict(self) -> dict[SplitName, list[int]]:
        return {name: list(getattr(self, name)) for name in SPLIT_NAMES}


def check_splits(splits: DatasetSplits, total: int | None) -> None:
    """Raise ``InvalidSplitError`` when two splits share an index or, given
    ``total``, an index is ``>= total``. Completeness is not required here."""
    owner: dict[int, str] = {}
    for name in SPLIT_NAMES:
        for position, index in enumerate(getattr(splits, name)):
            field = f"{name}.{position}"
            if total is not None and not 0 <= index < total:
                raise InvalidSplitError(
                    f"index {index} is out of range for {total} samples", field=field
                )
            if index in owner and owner[index] != name:
                raise InvalidSplitError(
                    f"index {index} is in both {owner[index]} and {name}", field=field
                )
            owner[index] = name


# --------------------------------------------------------------------------- dataset


class Preprocessing(CheckedOpenRecord):
    """How samples were prepared; unknown keys (tool versions, seeds) are kept."""

    normalization: str = "none"
    augmentation: list[str] = Field(default_factory=list)
    transforms: dict[str, Any] = Field(default_factory=dict)


def _format_problem(fmt: DataFormat, value: Any) -> str | None:
    if fmt == "text":
        return None if isinstance(value, str) else "text samples must be str"
    if fmt in ("image", "audio"):
        ok = isinstance(value, bytes | np.ndarray)
        return None if ok else f"{fmt} samples must be bytes or arrays"
    if not isinstance(value, np.ndarray):
        return f"{fmt} samples must be arrays"
    if fmt == "graph" and value.ndim != 2:
        return f"graph samples must be 2-D edge lists, got shape {value.shape}"
    return None


class TrainingDataset(CheckedRecord):
    """One version of a dataset. ``samples`` may be empty when only the metadata
    is loaded; then ``statistics.totalSamples`` bounds the split indices."""

    id: str = Field(min_length=1)
    name: str
    description: str = ""
    data_type: DataType
    format: DataFormat
    samples: DatasetSamples = Field(default_factory=DatasetSamples)
    statistics: DatasetStatistics = Field(default_factory=DatasetStatistics)
    splits: DatasetSplits = Field(default_factory=DatasetSplits)
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    version: str = "1"
    parent_version: str | None = None
    swarm_id: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        n = len(self.samples.inputs)
        declared = self.statistics.total_samples
        if n and declared is not None and declared != n:
            raise InvalidFieldError(
                f"is {declared} but samples.inputs has {n}", field="statistics.totalSamples"
            )
        for position, value in enumerate(self.samples.inputs):
            problem = _format_problem(self.format, value)
            if problem:
                raise InvalidFieldError(problem, field=f"samples.inputs.{position}")
        try:
            check_splits(self.splits, n or declared)
        except InvalidSplitError as exc:
            raise InvalidSplitError(exc.message, field=_join("splits", exc.field)) from None
        if self.parent_version is not None and self.parent_version == self.version:
            raise InvalidFieldError("must differ from version", field="parentVersion")
        if as_utc(self.updated_at) < as_utc(self.created_at):
            raise InvalidFieldError("is earlier than createdAt", field="updatedAt")
        return self

    @property
    def sample_count(self) -> int | None:
        """Samples present, else the declared total (None when unknown)."""
        return len(self.samples.inputs) or self.statistics.total_samples

    def torch_dataset(self, split: SplitName | None = None, **options: Any) -> Any:
        """A ``torch.utils.data.Dataset`` over the samples (one split, or all);
        ``options`` go to ``swarmstore.datasets.torch_dataset.SampleDataset``."""
        if split is not None and split not in DatasetSplits.model_fields:
            raise InvalidSplitError(
                f"unknown split {split!r}; one of {sorted(DatasetSplits.model_fields)}"
            )
        indices = None if split is None else getattr(self.splits, split)
        if "classes" not in options:
            labels = self.samples.labels or []
            options["classes"] = sorted({label for label in labels if label is not None})
        return _sample_dataset_factory()(self.samples, indices=indices, **options)

    def split_datasets(self, **options: Any) -> dict[SplitName, Any]:
        """One torch ``Dataset`` per split, sharing one class list."""
        if "classes" not in options:
            labels = self.samples.labels or []
            options["classes"] = sorted({label for label in labels if label is not None})
        return {name: self.torch_dataset(name, **options) for name in SPLIT_NAMES}


# --------------------------------------------------------------------------- torch hook

SampleDatasetFactory = Callable[..., Any]
"""``(samples, *, indices=None, **options) -> torch.utils.data.Dataset``."""

_sample_dataset: list[SampleDatasetFactory] = []


def register_sample_dataset(factory: SampleDatasetFactory) -> None:
    """Install what ``TrainingDataset.torch_dataset`` builds.

    Records import no torch: ``swarmstore.datasets.torch_dataset`` registers its
    ``SampleDataset`` here when it is imported (``import swarmstore`` imports it)."""
    _sample_dataset[:] = [factory]


def _sample_dataset_factory() -> SampleDatasetFactory:
    if not _sample_dataset:
        raise RuntimeError(
            "torch datasets need swarmstore.datasets.torch_dataset; import it (or swarmstore)"
        )
    return _sample_dataset[0]


class DatasetVersionInfo(Record):
    """A dataset version as listed: everything but the samples."""

    swarm_id: str
    id: str
    version: str
    parent_version: str | None = None
    name: str
    data_type: DataType
    format: DataFormat
    total_samples: int
    quality_score: float | None = None
    samples_bytes: int = Field(description="size of the stored (Parquet) samples")
    created: datetime
