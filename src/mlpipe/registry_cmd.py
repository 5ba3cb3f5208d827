"""mlpipe models, approve and reject: the dataset's model versions in the registry, and a person's decision."""

from __future__ import annotations

import argparse
import json

from pipeline_common import layout, registry

from .display import say
from .place import place


def _metrics(target, version) -> dict:
    """The version's metrics file (its model metrics), or at least its gate score."""
    document = target.reader().get_json(layout.parse_s3_uri(version.metrics_uri)[1]) if version.metrics_uri else None
    if document:
        names = {"binary": ("accuracy", "roc_auc", "f1", "log_loss"), "multiclass": ("accuracy", "macro_f1", "log_loss"),
                 "regression": ("rmse", "mae", "r2")}[document.get("problem_type", "binary")]
        return {name: document.get(name) for name in names}
    return {version.gate_metric: version.gate_score} if version.gate_metric else {}


def cmd_models(args: argparse.Namespace) -> int:
    with place(args) as target:
        dataset = args.dataset or target.default_dataset
        group = layout.model_package_group(target.job_prefix, dataset)
        summaries = registry.versions(target.sagemaker, group)
        versions = [registry.describe(target.sagemaker, s["ModelPackageArn"]) for s in summaries]
        serving = next((v for v in versions if v.status == registry.APPROVED), None)
        rows = [{"version": v.version, "status": v.status, "serving": v is serving, "run_id": v.run_id, "created_at": v.created_at,
                 "gate_metric": v.gate_metric, "gate_score": v.gate_score, "metrics": _metrics(target, v), "arn": v.arn,
                 "approval_description": v.description} for v in versions]
    if args.json:
        print(json.dumps(rows, indent=2, default=str), flush=True)
        return 0
    if not rows:
        say(f"no model versions of dataset {dataset} (group {group})")
        return 0
    say(f"model package group {group} (dataset {dataset}); the newest Approved version serves")
    say(f"{'VERSION':>7}  {'STATUS':<22} {'GATE METRIC':<18} {'RUN':<36} CREATED (UTC)")
    for row in rows:
        gate = f"{row['gate_metric']} {row['gate_score']:.4f}" if row["gate_score"] is not None else "-"
        status = row["status"] + (" (serving)" if row["serving"] else "")
        say(f"{row['version']:>7}  {status:<22} {gate:<18} {row['run_id']:<36} {str(row['created_at'])[:19].replace('T', ' ')}")
    return 0


def _decide(args: argparse.Namespace, status: str) -> int:
    with place(args) as target:
        dataset = args.dataset or target.default_dataset
        version = registry.find_version(target.sagemaker, target.job_prefix, dataset, args.version)
        if version is None:
            say(f"mlpipe: dataset {dataset} has no model version {args.version}")
            return 2
        note = args.note or f"{status} by a person with mlpipe"
        target.sagemaker.update_model_package(ModelPackageArn=version.arn, ModelApprovalStatus=status, ApprovalDescription=note[:1000])
        say(f"version {version.version} of dataset {dataset} (run {version.run_id}): {version.status} -> {status}")
        serving = registry.serving_version(target.sagemaker, target.job_prefix, dataset)
        say(f"serving now: version {serving.version}" if serving else "no version of this dataset is approved now")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, registry.APPROVED)


def cmd_reject(args: argparse.Namespace) -> int:
    return _decide(args, registry.REJECTED)
