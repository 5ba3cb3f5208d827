from __future__ import annotations

import json

import pytest

from mlpipe.offline.cloud import OfflineCloud
from pipeline_common import layout


@pytest.fixture(scope="module")
def offline():
    with OfflineCloud() as cloud:
        yield cloud


def run_file(cloud: OfflineCloud, body: bytes, key: str, timeout: float = 120) -> str:
    """Upload body to key, wait for the chain to go quiet, return the run id."""
    s3 = cloud.client("s3")
    version = s3.put_object(Bucket=cloud.bucket, Key=key, Body=body)["VersionId"]
    cloud.settle(timeout)
    return layout.run_id_for_upload(key, version, None)


def read_json(cloud: OfflineCloud, key: str) -> dict:
    return json.loads(cloud.client("s3").get_object(Bucket=cloud.bucket, Key=key)["Body"].read())


def all_versions(cloud: OfflineCloud) -> list[dict]:
    s3 = cloud.client("s3")
    versions = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=cloud.bucket):
        versions += page.get("Versions", [])
    return versions
