"""Least privilege, asserted on the IAM policies aws-sam-translator generates from the real template."""

from __future__ import annotations

import json
import re

import pytest
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
FUNCTIONS = ["PreprocessFunction", "TrainFunction", "InferFunction", "EvaluateFunction", "ScoreFunction", "ApprovalFunction",
             "PredictFunction", "FailureFunction"]
ALWAYS = [f for f in FUNCTIONS if f != "PredictFunction"]  # the PredictFunction exists only with EnableEndpoint
# Actions without resource-level permissions: the only ones allowed on "*".
NO_RESOURCE_LEVEL = {"cloudwatch:PutMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords", "sagemaker:ListModelPackages"}


class _NoManagedPolicies:
    def load(self) -> dict:
        return {}


@pytest.fixture(scope="module")
def translated(monkeypatch_module) -> dict:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for lid, resource in template["Resources"].items():  # as `sam package` would have left them
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://packaged/{lid}.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://packaged/{lid}.zip"
    return transform(template, {}, _NoManagedPolicies())


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield mp
    mp.undo()


def statements(role: dict) -> list[dict]:
    found = []
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            statement = dict(statement)
            statement["Action"] = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            statement["Resource"] = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            found.append(statement)
    return found


def role_of(translated: dict, function: str) -> dict:
    return translated["Resources"][f"{function}Role"]


def allowed(role: dict, action: str) -> list:
    return [r for s in statements(role) if s["Effect"] == "Allow" and action in s["Action"] for r in s["Resource"]]


def s3_prefixes(resources: list) -> set[str]:
    """The key prefixes of ${DataBucket.Arn}/<prefix>/* resources."""
    prefixes = set()
    for resource in resources:
        text = resource.get("Fn::Sub") if isinstance(resource, dict) else resource
        match = re.fullmatch(r"\$\{DataBucket\.Arn\}/([A-Za-z-]+)/\*", text or "")
        assert match, f"unexpected S3 resource {resource}"
        prefixes.add(match[1])
    return prefixes


def test_one_role_per_function(translated):
    roles = [lid for lid, r in translated["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert sorted(roles) == sorted([f"{f}Role" for f in FUNCTIONS] + ["SageMakerExecutionRole", "ProcessingRole"])


def test_no_wildcard_actions_and_star_resources_only_where_unavoidable(translated):
    for lid, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in statements(resource):
            if statement["Effect"] != "Allow":
                continue
            for action in statement["Action"]:
                assert "*" not in action, f"{lid}: wildcard action {action}"
            if "*" in statement["Resource"]:
                assert set(statement["Action"]) <= NO_RESOURCE_LEVEL, f"{lid}: {statement['Action']} on *"


def test_every_star_resource_in_the_template_says_why():
    lines = (ROOT / "template.yaml").read_text().splitlines()
    stars = [line for line in lines if re.search(r'Resource:\s*"\*"', line)]
    assert stars and all("no resource-level permissions" in line for line in stars)


@pytest.mark.parametrize(
    ("function", "reads", "writes"),
    [
        # code/: the archive its Processing job runs; processed/: the job's task, input copy and staged manifest
        ("PreprocessFunction", {"raw", "specs", "models", "runs", "code", "processed"},
         {"processed", "splitData", "models", "errors", "runs", "code"}),
        ("TrainFunction", {"splitData", "runs"}, {"runs"}),
        ("InferFunction", {"splitData", "runs"}, {"runs"}),
        ("EvaluateFunction", {"inference-output", "splitData", "processed", "models", "runs"}, {"evaluation", "errors", "runs"}),
        ("ScoreFunction", {"score", "models", "scoring", "runs"}, {"scoring", "predictions", "errors", "runs"}),
        ("ApprovalFunction", {"runs"}, {"runs"}),
        ("PredictFunction", {"models"}, set()),
        ("FailureFunction", {"runs"}, {"errors", "runs"}),
    ],
)
def test_each_function_reads_and_writes_only_its_prefixes(translated, function, reads, writes):
    role = role_of(translated, function)
    assert s3_prefixes(allowed(role, "s3:PutObject")) == writes
    assert s3_prefixes(allowed(role, "s3:GetObject")) == reads
    assert "raw" not in s3_prefixes(allowed(role, "s3:PutObject"))  # uploads are never written by the chain
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"):
        assert allowed(role, action) == []


SAGEMAKER_ACTIONS = {
    # the champion; the Processing job of a large upload
    "PreprocessFunction": {"sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "sagemaker:CreateProcessingJob",
                           "sagemaker:AddTags"},
    "TrainFunction": {"sagemaker:CreateTrainingJob", "sagemaker:AddTags"},
    "InferFunction": {"sagemaker:CreateModel", "sagemaker:CreateTransformJob", "sagemaker:DescribeTrainingJob",
                      "sagemaker:DescribeModelPackage", "sagemaker:AddTags"},
    "EvaluateFunction": {"sagemaker:DescribeTransformJob", "sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage",
                         "sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage", "sagemaker:AddTags"},
    "ScoreFunction": {"sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "sagemaker:CreateModel",
                      "sagemaker:CreateTransformJob", "sagemaker:AddTags"},
    "ApprovalFunction": {"sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "sagemaker:CreateModel",
                         "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint",
                         "sagemaker:DescribeEndpoint", "sagemaker:AddTags"},
    "PredictFunction": {"sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "sagemaker:DescribeEndpoint",
                        "sagemaker:InvokeEndpoint"},
    "FailureFunction": set(),
}
SAGEMAKER_RESOURCE = r":(training-job|processing-job|model|transform-job|endpoint|endpoint-config|model-package-group)/\$\{JobNamePrefix\}-\*$|:model-package/\$\{JobNamePrefix\}-\*/\*$"


def test_each_function_calls_only_its_sagemaker_actions_and_only_on_the_stack_prefix(translated):
    for function in FUNCTIONS:
        sagemaker = [s for s in statements(role_of(translated, function)) if any(a.startswith("sagemaker:") for a in s["Action"])]
        assert {a for s in sagemaker for a in s["Action"]} == SAGEMAKER_ACTIONS[function], function
        for statement in sagemaker:
            if statement["Resource"] == ["*"]:
                assert statement["Action"] == ["sagemaker:ListModelPackages"]
                continue
            for resource in statement["Resource"]:
                assert re.search(SAGEMAKER_RESOURCE, resource["Fn::Sub"]), resource


def test_pass_role_only_for_the_sagemaker_roles_and_only_to_sagemaker(translated):
    for function in FUNCTIONS:
        passes = [s for s in statements(role_of(translated, function)) if "iam:PassRole" in s["Action"]]
        if function not in ("PreprocessFunction", "TrainFunction", "InferFunction", "ScoreFunction", "ApprovalFunction"):
            assert passes == []
            continue
        (statement,) = passes
        role = "ProcessingRole" if function == "PreprocessFunction" else "SageMakerExecutionRole"
        assert statement["Resource"] == [{"Fn::GetAtt": [role, "Arn"]}]
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_sagemaker_role_reads_inputs_and_writes_outputs_only(translated):
    role = translated["Resources"]["SageMakerExecutionRole"]
    assert s3_prefixes(allowed(role, "s3:GetObject")) == {"splitData", "models", "scoring"}
    assert s3_prefixes(allowed(role, "s3:PutObject")) == {"models", "inference-output", "scoring"}
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sagemaker.amazonaws.com"}]


def test_processing_role_reads_its_code_and_task_and_writes_the_prepared_run_only(translated):
    role = translated["Resources"]["ProcessingRole"]
    assert s3_prefixes(allowed(role, "s3:GetObject")) == {"code", "processed"}
    assert s3_prefixes(allowed(role, "s3:PutObject")) == {"processed", "splitData", "models"}
    (listing,) = [s for s in statements(role) if "s3:ListBucket" in s["Action"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["code/*", "processed/*"]}}
    assert not any(a.startswith(("sagemaker:", "iam:", "dynamodb:", "sns:")) for s in statements(role) for a in s["Action"])
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sagemaker.amazonaws.com"}]


def test_functions_may_send_only_to_their_failure_destination(translated):
    for function in FUNCTIONS:
        queues = allowed(role_of(translated, function), "sqs:SendMessage")
        expected = "UnhandledFailureQueue" if function == "FailureFunction" else "FunctionFailureQueue"
        assert queues == [{"Fn::GetAtt": [expected, "Arn"]}]


def test_bucket_is_private_encrypted_versioned_tls_only_and_expires_intermediates(translated):
    bucket = translated["Resources"]["DataBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    encryption = json.dumps(bucket["BucketEncryption"])
    assert '"AES256"' in encryption and '"aws:kms"' in encryption and "DataKmsKeyArn" in encryption
    expiring = {r.get("Prefix") for r in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r}
    assert expiring == {"processed/", "splitData/", "inference-output/", "scoring/", "code/"}
    policy = translated["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in policy if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dashboard_shows_every_stage_the_runs_and_accuracy(translated):
    body = translated["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))  # valid JSON once CloudFormation substitutes the names
    titles = [w["properties"]["title"] for w in dashboard["widgets"]]
    assert {"Invocations per stage", "Errors per stage", "Runs succeeded and failed", "Accuracy and ROC AUC per run"} <= set(titles)
    for function in ALWAYS:
        assert body.count(f"${{{function}}}") == 3  # invocations, errors, duration
    for metric in ("RunsSucceeded", "RunsFailed", "Accuracy", "RocAuc", "StageDuration", "RowsIn", "RowsRejected"):
        assert f'"{metric}"' in body


def test_alarms_watch_errors_failure_queue_and_failed_runs_and_notify(translated):
    alarms = {lid: r["Properties"] for lid, r in translated["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"FunctionErrorsAlarm", "UnhandledFailuresAlarm", "FailedRunsAlarm"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"
    metrics = alarms["FunctionErrorsAlarm"]["Metrics"]
    watched = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"] for m in metrics if "MetricStat" in m}
    assert watched == set(ALWAYS)
    (conditional,) = [m["Fn::If"] for m in metrics if "Fn::If" in m]  # the PredictFunction, when it exists
    assert conditional[0] == "EndpointEnabled" and conditional[1]["MetricStat"]["Metric"]["Dimensions"][0]["Value"] == {"Ref": "PredictFunction"}
    assert alarms["FailedRunsAlarm"]["MetricName"] == "RunsFailed"
    assert alarms["FailedRunsAlarm"]["Dimensions"] == [{"Name": "Pipeline", "Value": {"Ref": "JobNamePrefix"}}]


def test_every_function_is_traced_and_logs_with_its_stage_name(translated):
    for function in FUNCTIONS:
        props = translated["Resources"][function]["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == function.removesuffix("Function").lower()
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}


def test_the_predict_url_requires_iam_auth_and_exists_only_with_the_endpoint(translated):
    url = translated["Resources"]["PredictFunctionUrl"]
    assert url["Properties"]["AuthType"] == "AWS_IAM" and url["Condition"] == "EndpointEnabled"
    assert translated["Resources"]["PredictFunction"]["Condition"] == "EndpointEnabled"
    public = [lid for lid, r in translated["Resources"].items()
              if r["Type"] == "AWS::Lambda::Permission" and r["Properties"].get("FunctionUrlAuthType") == "NONE"]
    assert public == []  # nobody may call it unsigned


def test_the_registry_and_endpoints_are_touched_only_under_the_stack_prefix(translated):
    for function in FUNCTIONS:
        for statement in statements(role_of(translated, function)):
            registry_actions = {a for a in statement["Action"] if "ModelPackage" in a or "Endpoint" in a}
            if registry_actions and statement["Resource"] != ["*"]:
                for resource in statement["Resource"]:
                    assert "${JobNamePrefix}-*" in resource["Fn::Sub"], (function, resource)
