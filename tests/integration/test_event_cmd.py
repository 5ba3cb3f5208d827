"""`mlpipe event --stack` on a deployed stack (moto's CloudFormation, S3 and Lambda): the event names the stack's real
bucket and object, and --env-vars writes the deployed functions' environment for `sam local invoke`."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from mlpipe.cli import main
from tests.integration.conftest import sample_event

TEMPLATE = {
    "Resources": {
        "DataBucket": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}},
        "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}}},
        "PreprocessFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "preprocess_app.handler", "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
            "Environment": {"Variables": {"BUCKET_NAME": {"Ref": "DataBucket"}, "DEFAULT_DATASET": "titanic"}}}},
    },
    "Outputs": {
        "DataBucketName": {"Value": {"Ref": "DataBucket"}},
        "JobNamePrefix": {"Value": "mlpipe"},
        "DefaultDataset": {"Value": "titanic"},
        "PreprocessFunctionName": {"Value": {"Ref": "PreprocessFunction"}},
    },
}


@pytest.fixture
def deployed(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_CLOUDFORMATION", "AWS_ENDPOINT_URL_STS",
                 "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_SAGEMAKER"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        boto3.client("cloudformation").create_stack(StackName="mlpipe", TemplateBody=json.dumps(TEMPLATE), Capabilities=["CAPABILITY_IAM"])
        outputs = {o["OutputKey"]: o["OutputValue"] for o in
                   boto3.client("cloudformation").describe_stacks(StackName="mlpipe")["Stacks"][0]["Outputs"]}
        # moto's CloudFormation leaves the bucket's VersioningConfiguration out
        boto3.client("s3").put_bucket_versioning(Bucket=outputs["DataBucketName"], VersioningConfiguration={"Status": "Enabled"})
        yield outputs


def test_the_event_names_the_stacks_bucket_and_the_objects_current_version(deployed, tmp_path, capsys):
    bucket = deployed["DataBucketName"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="raw/titanic/passengers.csv", Body=b"old")
    version = s3.put_object(Bucket=bucket, Key="raw/titanic/passengers.csv", Body=b"PassengerId,Survived\n1,0\n")["VersionId"]
    env_file = tmp_path / "env.json"
    assert main(["event", "preprocess", "--stack", "mlpipe", "--key", "raw/titanic/passengers.csv", "--env-vars", str(env_file)]) == 0
    event = json.loads(capsys.readouterr().out)
    expected = sample_event("preprocess_raw_csv_created.json")
    assert set(event) == set(expected) and set(event["detail"]) == set(expected["detail"])  # the sample's shape
    assert event["detail"]["bucket"]["name"] == bucket != expected["detail"]["bucket"]["name"]
    obj = event["detail"]["object"]
    assert (obj["key"], obj["version-id"], obj["size"]) == ("raw/titanic/passengers.csv", version, 25)
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"] and event["region"] == "eu-west-3"
    assert event["account"] == boto3.client("sts").get_caller_identity()["Account"]
    # what sam local invoke --env-vars reads: each deployed function's environment, by the template's logical id
    assert json.loads(env_file.read_text()) == {"PreprocessFunction": {"BUCKET_NAME": bucket, "DEFAULT_DATASET": "titanic"}}


def test_a_gave_up_record_wraps_the_event_of_the_function_the_object_starts(deployed, capsys):
    bucket = deployed["DataBucketName"]
    version = boto3.client("s3").put_object(Bucket=bucket, Key="raw/late.csv", Body=b"a,b\n")["VersionId"]
    assert main(["event", "failure_function_gave_up", "--stack", "mlpipe", "--key", "raw/late.csv"]) == 0
    (message,) = json.loads(capsys.readouterr().out)["Records"]
    record = json.loads(message["body"])
    assert record["requestContext"]["functionArn"].endswith(f":function:{deployed['PreprocessFunctionName']}:$LATEST")
    assert record["requestPayload"]["detail"]["object"]["version-id"] == version
    assert record["responsePayload"]["errorType"] == "Runtime.ExitError"


def test_nothing_that_fits_is_said_plainly(deployed, capsys):
    with pytest.raises(SystemExit, match="no object under s3://.*/raw/"):
        main(["event", "preprocess", "--stack", "mlpipe"])
    with pytest.raises(SystemExit, match="no sample event 'nope'"):
        main(["event", "nope", "--stack", "mlpipe"])


def test_without_a_stack_or_an_offline_cloud_it_says_what_to_do(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDFORMATION", raising=False)
    with pytest.raises(SystemExit, match="start `mlpipe cloud`"):
        main(["event", "infer"])

