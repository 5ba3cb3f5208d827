"""The SageMaker requests the pure cores build, checked against botocore's real service model."""

import botocore.session
import pytest
from botocore.validate import ParamValidator

import infer_core
import train_core
from pipeline_common import layout
from pipeline_common.models import SplitManifest

RUN = "titanic-0123456789"
SETTINGS = train_core.TrainingSettings(
    image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    role_arn="arn:aws:iam::111122223333:role/example",
    instance_type="ml.m5.large",
    instance_count=1,
    volume_gb=5,
    max_runtime_seconds=3600,
    hyperparameters={"num_round": 100, "max_depth": 5, "eta": 0.2, "subsample": 0.8},
)


def manifest(**changes) -> SplitManifest:
    fields = dict(run_id=RUN, stage="preprocess", created_at="2026-11-25T09:00:00+00:00", dataset="titanic", source={},
                  problem_type="binary", target="Survived", objective="binary:logistic", classes=["0", "1"], features=["a"],
                  feature_sources={"a": "a"}, n_train=8, n_test=2, test_fraction=0.2, seed=42, spec_key="s", transform_key="t",
                  profile_key="p", files={})
    return SplitManifest(**{**fields, **changes})


def assert_valid(operation: str, request: dict) -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def test_training_request_is_valid_and_uses_the_csv_contract():
    request = train_core.training_job_request("bkt", "mlpipe", RUN, SETTINGS, manifest())
    assert_valid("CreateTrainingJob", request)
    assert request["TrainingJobName"] == f"mlpipe-{RUN}"
    (channel,) = request["InputDataConfig"]
    assert channel["ChannelName"] == "train" and channel["ContentType"] == "text/csv"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://bkt/splitData/{RUN}/train/"
    assert request["OutputDataConfig"]["S3OutputPath"] == f"s3://bkt/models/{RUN}/"
    assert request["HyperParameters"] == {"objective": "binary:logistic", "num_round": "100", "max_depth": "5", "eta": "0.2", "subsample": "0.8"}
    assert {"Key": "mlpipe:run-id", "Value": RUN} in request["Tags"]


def completed_detail(**overrides) -> dict:
    name = layout.job_name("mlpipe", RUN)
    detail = {
        "TrainingJobName": name,
        "TrainingJobStatus": "Completed",
        "AlgorithmSpecification": {"TrainingImage": SETTINGS.image},
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bkt/{layout.model_artifact_key(RUN, name)}"},
        "Tags": {"mlpipe:run-id": RUN},
    }
    detail.update(overrides)
    return detail


def test_model_and_transform_requests_are_valid_and_line_split():
    training = infer_core.completed_training(completed_detail(), "mlpipe")
    settings = infer_core.TransformSettings("arn:aws:iam::111122223333:role/example", "ml.m5.large", 1)
    (op_model, model), (op_transform, transform) = infer_core.requests_for("bkt", "mlpipe", training, manifest(), settings)
    assert (op_model, op_transform) == ("create_model", "create_transform_job")
    assert_valid("CreateModel", model)
    assert_valid("CreateTransformJob", transform)
    assert model["PrimaryContainer"] == {"Image": SETTINGS.image, "ModelDataUrl": training.model_artifacts}
    assert transform["TransformInput"]["SplitType"] == "Line" and transform["TransformInput"]["ContentType"] == "text/csv"
    assert transform["TransformOutput"]["AssembleWith"] == "Line"
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://bkt/splitData/{RUN}/test/"
    assert transform["TransformOutput"]["S3OutputPath"] == f"s3://bkt/inference-output/{RUN}/"
    assert {"Key": "mlpipe:run-kind", "Value": "training"} in transform["Tags"]


def test_a_comparable_champion_gets_its_own_model_from_the_registry_and_a_transform_of_the_same_rows():
    from pipeline_common.models import Champion, ModelVersion

    version = ModelVersion(arn="arn:aws:sagemaker:us-east-1:111122223333:model-package/mlpipe-titanic/1", group="mlpipe-titanic",
                           version=1, status="Approved", created_at="2026-11-25", run_id="titanic-9999999999", dataset="titanic",
                           image=SETTINGS.image, model_data="s3://bkt/m.tar.gz", spec_uri="s3://bkt/s.json", transform_uri="s3://bkt/t.json")
    training = infer_core.completed_training(completed_detail(), "mlpipe")
    settings = infer_core.TransformSettings("arn:aws:iam::111122223333:role/example", "ml.m5.large", 1)
    calls = infer_core.requests_for("bkt", "mlpipe", training, manifest(champion=Champion(version=version, comparable=True)), settings)
    assert [op for op, _ in calls] == ["create_model", "create_transform_job", "create_model", "create_transform_job"]
    (_, model), (_, transform) = calls[2:]
    assert_valid("CreateModel", model)
    assert_valid("CreateTransformJob", transform)
    assert model["ModelName"] == transform["TransformJobName"] == f"mlpipe-{RUN}-c"
    assert model["PrimaryContainer"] == {"ModelPackageName": version.arn}
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://bkt/splitData/{RUN}/champion/"
    assert transform["TransformOutput"]["S3OutputPath"] == f"s3://bkt/inference-output/{RUN}/champion/"
    not_comparable = manifest(champion=Champion(version=version, comparable=False, reason="it cannot read these rows"))
    assert len(infer_core.requests_for("bkt", "mlpipe", training, not_comparable, settings)) == 2
    assert layout.run_id_from_job_name("mlpipe", f"mlpipe-{RUN}-c") == RUN


def test_run_id_comes_from_tags_or_the_job_name():
    assert infer_core.completed_training(completed_detail(Tags={}), "mlpipe").run_id == RUN
    assert infer_core.completed_training(completed_detail(), "mlpipe").run_id == RUN
    with pytest.raises(ValueError):
        infer_core.completed_training(completed_detail(Tags={}, TrainingJobName="someone-elses-job"), "mlpipe")


def test_missing_artifacts_ask_for_a_describe_call():
    assert infer_core.completed_training(completed_detail(ModelArtifacts={}), "mlpipe") is None


def test_spot_training_sets_the_wait_limit():
    from dataclasses import replace

    request = train_core.training_job_request("bkt", "mlpipe", RUN, replace(SETTINGS, spot=True, spot_max_wait_seconds=7200), manifest())
    assert_valid("CreateTrainingJob", request)
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert "EnableManagedSpotTraining" not in train_core.training_job_request("bkt", "mlpipe", RUN, SETTINGS, manifest())
    with pytest.raises(ValueError, match="SpotMaxWaitSeconds"):
        train_core.training_job_request("bkt", "mlpipe", RUN, replace(SETTINGS, spot=True, spot_max_wait_seconds=60), manifest())


def test_hyperparameters_layer_the_stack_the_problem_type_and_the_spec():
    multiclass = manifest(problem_type="multiclass", objective="multi:softprob", classes=["a", "b", "c"], hyperparameters={"eta": "0.05"})
    assert train_core.hyperparameters(SETTINGS.hyperparameters, multiclass) == {
        "num_round": "100", "max_depth": "5", "eta": "0.05", "subsample": "0.8", "objective": "multi:softprob", "num_class": "3"}
    regression = manifest(problem_type="regression", objective="reg:absoluteerror", classes=[])
    assert train_core.hyperparameters(SETTINGS.hyperparameters, regression)["objective"] == "reg:absoluteerror"
    assert "num_class" not in train_core.hyperparameters(SETTINGS.hyperparameters, regression)
