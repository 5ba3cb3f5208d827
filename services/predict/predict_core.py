"""Real-time predictions: JSON rows in, the same columns as a batch predictions file out."""

from __future__ import annotations

import base64
import json

import pandas as pd

from pipeline_common.errors import InputRejected
from pipeline_common.models import DatasetSpec, FittedTransform

from tabular.csvio import matrix_csv, read_frame
from tabular.predictions import parse_predictions, prediction_columns
from tabular.score import encode

MAX_ROWS = 1000  # a request's rows, at most (a serverless endpoint's payload is at most 4 MB)


def request_of(event: dict, default_dataset: str) -> tuple[str, list[dict]]:
    """The dataset and rows of a function URL request (payload format 2.0): {"dataset": ..., "rows": [{...}, ...]}."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    try:
        document = json.loads(body or "{}")
    except json.JSONDecodeError as err:
        raise InputRejected(f"the request body is not JSON: {err}") from None
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise InputRejected('send {"dataset": NAME, "rows": [{"column": value, ...}, ...]} with at least one row')
    if len(rows) > MAX_ROWS:
        raise InputRejected(f"{len(rows)} rows in one request; send at most {MAX_ROWS}, or upload a file to score/")
    return str(document.get("dataset") or default_dataset), rows


def rows_table(rows: list[dict]) -> pd.DataFrame:
    """The rows as the text of a CSV file: one column per key, in the order keys first appear."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return pd.DataFrame([[("" if row.get(c) is None else row.get(c)) for c in columns] for row in rows], columns=columns)


def encoded(table: pd.DataFrame, spec: DatasetSpec, transform: FittedTransform) -> bytes:
    """Parsed as a batch file is (the same spellings of missing, the same types), then encoded as the model was trained."""
    frame = read_frame(table.to_csv(index=False), spec)
    return matrix_csv(encode(frame, spec, transform))


def answer(table: pd.DataFrame, body: bytes, transform: FittedTransform, threshold: float) -> list[dict]:
    predictions = parse_predictions(body, transform.problem_type, len(transform.classes))
    columns = prediction_columns(transform.problem_type, transform.classes, predictions, threshold)
    return json.loads(pd.concat([table, columns], axis=1).to_json(orient="records"))


def response(status: int, document: dict) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(document)}
