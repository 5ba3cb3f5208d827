"""How a client reaches an offline cloud, from its own process or another's: endpoints, region, dummy credentials."""

from __future__ import annotations

import time

import boto3

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline", "AWS_SESSION_TOKEN": "offline"}


def offline_client(service: str, endpoints: dict[str, str], region: str):
    """A boto3 client of ``service`` at the offline cloud: SageMaker at its own server, every other service at moto's."""
    return boto3.client(
        service,
        endpoint_url=endpoints["sagemaker" if service == "sagemaker" else "moto"],
        region_name=region,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
    )


class CloudAccess:
    """What commands use of an offline cloud, in this process or another: a client per service, and ``settle``.
    A subclass sets ``endpoints``, ``region``, ``_clients`` (a dict) and ``_lock``, and says whether it is idle."""

    endpoints: dict[str, str]
    region: str

    def client(self, service: str):
        """One client per service, shared by the cloud's threads (boto3 clients are thread-safe; creating one is not cheap)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = offline_client(service, self.endpoints, self.region)
            return self._clients[service]

    def is_idle(self) -> bool:
        raise NotImplementedError

    def settle(self, timeout: float = 120, quiet: float = 0.3) -> None:
        """Wait until the cloud has been idle for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            if self.is_idle():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet:
                    return
            else:
                quiet_since = None
            time.sleep(0.05)
        raise TimeoutError(f"the offline cloud did not settle within {timeout} s")
