"""Powertools for every handler: JSON logs with the run id as correlation id, EMF metrics, X-Ray tracing.

Service name (per stage) and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, set in template.yaml.
"""

from __future__ import annotations

import json
import os
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric

# Run-level metrics go out through single_metric, so an invocation without stage metrics (a duplicate
# that returns the stored result, say) is normal, not worth a warning in the function's log.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
metrics = Metrics()
tracer = Tracer()


def start_run_context(run_id: str) -> None:
    """Tag everything this invocation emits with its run: log lines, metric records and the trace."""
    logger.set_correlation_id(run_id)
    metrics.add_metadata("run_id", run_id)
    tracer.put_annotation("run_id", run_id)


def run_metric(name: str, value: float, unit: MetricUnit = MetricUnit.Count, run_id: str | None = None, **dimensions: str) -> None:
    """A pipeline-level metric (runs succeeded or failed, accuracy, stage durations), dimensioned by pipeline, not by function."""
    # service="": no per-function dimension, so RunsFailed from preprocess and from the failure function
    # are one metric stream that one alarm watches.
    metric = SingleMetric(service="")
    metric.add_metric(name=name, unit=unit, value=value)
    for key, dimension in {"Pipeline": os.environ.get("JOB_PREFIX", "mlpipe"), **dimensions}.items():
        metric.add_dimension(name=key, value=dimension)
    if run_id:
        metric.add_metadata("run_id", run_id)
    print(json.dumps(metric.serialize_metric_set(), separators=(",", ":")), flush=True)


def stage_seconds(status: dict, stage: str) -> None:
    """Emit the duration a status record gives a finished stage."""
    seconds = (status.get("stages", {}).get(stage) or {}).get("seconds")
    if seconds is not None:
        run_metric("StageDuration", seconds, MetricUnit.Seconds, run_id=status["run_id"], Stage=stage)
