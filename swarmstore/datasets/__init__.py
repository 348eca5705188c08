"""Pure dataset building blocks: statistics and quality, splits, file importers
and the columnar (Parquet) encoding of samples. The torch wrapper lives in
``swarmstore.datasets.torch_dataset`` so that importing this package stays light."""

from swarmstore.datasets.columnar import decode_samples, encode_samples
from swarmstore.datasets.importers import ImportFormatError, read_csv, read_jsonl, read_text
from swarmstore.datasets.splits import make_splits, split_sizes, validate_splits
from swarmstore.datasets.statistics import (
    assess_quality,
    compute_statistics,
    find_duplicates,
    remove_duplicates,
)

__all__ = [
    "ImportFormatError",
    "assess_quality",
    "compute_statistics",
    "decode_samples",
    "encode_samples",
    "find_duplicates",
    "make_splits",
    "read_csv",
    "read_jsonl",
    "read_text",
    "remove_duplicates",
    "split_sizes",
    "validate_splits",
]
