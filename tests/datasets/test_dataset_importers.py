"""Importers: samples from JSONL, CSV and text; bad lines name file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swarmstore.datasets.importers import ImportFormatError, read_csv, read_jsonl, read_text
from swarmstore.errors import InvalidRecordError


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_arrays_text_labels_and_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "data.jsonl",
        '{"input": [[1, 2], [3, 4]], "label": "cat", "source": "a"}\n'
        "\n"
        '{"input": [[5, 6], [7, 8]], "label": 3}\n'
        '{"input": [[5, 6], [7, 8]]}\n',
    )
    samples = read_jsonl(path, label_key="label", dtype="float32")
    assert len(samples) == 3 and samples.inputs[0].dtype == np.float32
    assert samples.inputs[0].shape == (2, 2)
    assert samples.labels == ["cat", "3", None]
    assert samples.metadata == [{"source": "a"}, {}, {}]
    text = write(tmp_path, "text.jsonl", '{"text": "hello", "y": [1.5]}\n')
    got = read_jsonl(text, input_key="text", output_key="y", keep_metadata=False)
    assert got.inputs == ["hello"] and got.outputs is not None and got.outputs[0].tolist() == [1.5]


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ('{"input": [1]}\n{"input": [1, [2]]}\n', 2, "array"),
        ('{"input": [1]}\n\n{"input": [1]\n', 3, "Expecting"),
        ('{"input": [1]}\n[1, 2]\n', 2, "JSON object"),
        ('{"x": 1}\n', 1, "missing key 'input'"),
        ('{"input": [1], "label": 2.5}\n', 1, "label"),
    ],
)
def test_jsonl_bad_line_names_file_and_line(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    path = write(tmp_path, "bad.jsonl", body)
    with pytest.raises(ImportFormatError, match=reason) as caught:
        read_jsonl(path, label_key="label")
    assert caught.value.line == line and caught.value.path == str(path)
    assert str(caught.value).startswith(f"{path}:{line}:")
    assert isinstance(caught.value, InvalidRecordError)


def test_jsonl_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "bin.jsonl", b'{"input": [1]}\n{"input": "\xff"}\n')
    with pytest.raises(ImportFormatError) as caught:
        read_jsonl(path)
    assert caught.value.line == 2


def test_csv_numeric_columns_outputs_and_labels(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a,b,target,label\n1,2,0.5,cat\n3,,1.5,\n1,2,0.5,cat\n")
    samples = read_csv(path, output_columns=["target"], label_column="label")
    assert samples.inputs[0].tolist() == [1.0, 2.0]
    assert np.isnan(samples.inputs[1][1])  # a blank numeric cell is missing, not an error
    assert samples.labels == ["cat", None, "cat"]
    deduped = read_csv(path, output_columns=["target"], label_column="label", deduplicate=True)
    assert len(deduped) == 2


def test_csv_text_input(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", 'review,label\n"good, really",pos\nbad,neg\n')
    samples = read_csv(path, input_columns=["review"], label_column="label", input_kind="text")
    assert samples.inputs == ["good, really", "bad"]


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("a,b\n1,2\n3\n", 3, "1 fields"),
        ("a,b\n1,2\n3,x\n", 3, "column 'b'"),
        ("", 1, "header"),
    ],
)
def test_csv_bad_line_names_file_and_line(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    path = write(tmp_path, "bad.csv", body)
    with pytest.raises(ImportFormatError, match=reason) as caught:
        read_csv(path)
    assert caught.value.line == line and str(path) in str(caught.value)


def test_csv_unknown_column(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a,b\n1,2\n")
    with pytest.raises(ImportFormatError, match="no column 'z'"):
        read_csv(path, label_column="z")


def test_text_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "t.txt", "first line\r\n\nsecond\nfirst line\n")
    assert read_text(path).inputs == ["first line", "second", "first line"]
    assert read_text(path, deduplicate=True).inputs == ["first line", "second"]
    assert read_text(path, skip_blank=False).inputs[1] == ""
    bad = write(tmp_path, "bad.txt", b"ok\n\xc3\x28\n")
    with pytest.raises(ImportFormatError) as caught:
        read_text(bad)
    assert caught.value.line == 2
