"""Powertools Logger shared by the handlers: JSON lines with the run id as correlation id."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger()  # service name comes from POWERTOOLS_SERVICE_NAME, set per function in template.yaml
