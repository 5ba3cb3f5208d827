"""Scoring a chunk at a time: the same encoded rows and joined predictions as the whole file, never the whole file."""

from __future__ import annotations

import io

import numpy as np
import pytest

import score_core
from pipeline_common.errors import InputRejected
from pipeline_common.models import ModelVersion, ScoringManifest
from tabular.csvio import read_frame
from tabular.prepare import prepare
from tabular.score import encode, encode_chunks
from tests.conftest import DATA
from tests.datasets import HEADER, rows, small_csv, titanic_spec


@pytest.fixture(scope="module")
def fitted():
    spec = titanic_spec()
    return spec, prepare(DATA.read_bytes(), spec, 0.2, 42).transform


def _manifest(transform) -> ScoringManifest:
    return ScoringManifest.model_construct(problem_type=transform.problem_type, classes=transform.classes,
                                           model_version=ModelVersion.model_construct())


def test_chunks_encode_what_the_whole_file_encodes(fitted):
    spec, transform = fitted
    body = small_csv(n_per_class=20)
    whole = encode(read_frame(body, spec), spec, transform)
    chunked = np.concatenate(list(encode_chunks(io.BytesIO(body), spec, transform, rows=7)))
    assert chunked.shape == whole.shape == (40, len(transform.features))
    assert np.array_equal(np.isnan(chunked), np.isnan(whole)) and np.allclose(np.nan_to_num(chunked), np.nan_to_num(whole))


def test_a_bad_value_in_a_later_chunk_is_named_by_its_line(fitted):
    spec, transform = fitted
    body = small_csv('99,1,1,"x, Mr. y",male,young,0,0,t,1,,S\n', n_per_class=10)
    with pytest.raises(InputRejected, match="column Age must be numeric") as caught:
        list(encode_chunks(io.BytesIO(body), spec, transform, rows=4))
    assert caught.value.details["offending"][0]["line"] == 22  # header, then 20 rows: the 21st data row is line 22


def test_a_required_column_empty_in_one_chunk_only_is_fine_empty_in_all_is_refused(fitted):
    spec, transform = fitted
    lines = rows(4).splitlines()
    no_sex = [line.replace(",male,", ",,").replace(",female,", ",,") for line in lines]
    some = (HEADER + "\n".join(no_sex[:4] + lines[4:]) + "\n").encode()
    assert sum(len(m) for m in encode_chunks(io.BytesIO(some), spec, transform, rows=4)) == 8
    none = (HEADER + "\n".join(no_sex) + "\n").encode()
    with pytest.raises(InputRejected, match="required column\\(s\\) without any value: Sex"):
        list(encode_chunks(io.BytesIO(none), spec, transform, rows=4))


def test_not_utf8_and_headers_only_are_refused_as_streams(fitted):
    spec, transform = fitted
    with pytest.raises(InputRejected, match="not UTF-8"):
        list(encode_chunks(io.BytesIO(small_csv().replace(b"Mr. 3", b"M\xe9r. 3")), spec, transform, rows=4))
    with pytest.raises(InputRejected, match="header but no data rows"):
        list(encode_chunks(io.BytesIO(HEADER.encode()), spec, transform, rows=4))


def test_predictions_join_back_chunk_by_chunk_across_answer_files(fitted):
    _, transform = fitted
    upload = small_csv(n_per_class=5)  # 10 rows
    answers = [b"0.9\n0.1\n0.8\n", b"0.2\n\n0.7\n0.3\n0.6\n0.4\n0.55\n0.45\n"]
    tables = list(score_core.joined(io.BytesIO(upload), [io.BytesIO(a) for a in answers], _manifest(transform), 0.5, rows=4))
    assert [len(t) for t in tables] == [4, 4, 2]
    joined = np.concatenate([t["probability"].to_numpy() for t in tables])
    assert joined.tolist() == ["0.9", "0.1", "0.8", "0.2", "0.7", "0.3", "0.6", "0.4", "0.55", "0.45"]  # as the answers wrote them
    assert list(tables[0].columns) == HEADER.strip().split(",") + ["prediction", "probability"]
    assert tables[2]["PassengerId"].tolist() == ["9", "10"] and tables[2]["prediction"].tolist() == ["1", "0"]


@pytest.mark.parametrize(("answers", "message"), [
    ([b"0.5\n" * 9], "9 predictions for 10 rows"),
    ([b"0.5\n" * 6, b"0.5\n" * 5], "11 predictions for 10 rows"),
])
def test_a_transform_output_that_does_not_match_the_file_is_an_error(fitted, answers, message):
    _, transform = fitted
    with pytest.raises(ValueError, match=message):
        list(score_core.joined(io.BytesIO(small_csv()), [io.BytesIO(a) for a in answers], _manifest(transform), 0.5, rows=3))


def test_a_file_with_the_columns_scoring_adds_is_refused(fitted):
    _, transform = fitted
    body = b"a,prediction\n1,2\n"
    with pytest.raises(InputRejected, match="already has column\\(s\\) prediction"):
        list(score_core.joined(io.BytesIO(body), [io.BytesIO(b"0.5\n")], _manifest(transform), 0.5))
