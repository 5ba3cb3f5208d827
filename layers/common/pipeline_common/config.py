"""Typed access to the function settings that template.yaml passes as environment variables."""

from __future__ import annotations

import json
import os


class ConfigError(RuntimeError):
    """A setting the template should have provided is missing or malformed."""


def env_str(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set; template.yaml should provide it")
    return value


def _env_as(name: str, cast, kind: str):
    raw = env_str(name)
    try:
        return cast(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not {kind}") from None


def env_int(name: str) -> int:
    return _env_as(name, int, "an integer")


def env_float(name: str) -> float:
    return _env_as(name, float, "a number")


def env_json(name: str) -> dict:
    raw = env_str(name)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(f"environment variable {name} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"environment variable {name} must hold a JSON object")
    return value


def bucket_name() -> str:
    return env_str("BUCKET_NAME")


def job_prefix() -> str:
    return env_str("JOB_PREFIX")


def notification_topic() -> str | None:
    """The SNS topic failed runs are announced on; optional so a function can run without one."""
    return os.environ.get("NOTIFICATION_TOPIC_ARN") or None
