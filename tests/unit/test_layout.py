import re

import pytest

from mlpipe.offline.template import load_stack
from pipeline_common import layout


def test_run_id_is_deterministic_per_upload_and_distinct_between_uploads():
    first = layout.run_id_for_upload("raw/titanic.csv", "v1", "seq1")
    assert first == layout.run_id_for_upload("raw/titanic.csv", "v1", "seq1")
    assert first != layout.run_id_for_upload("raw/titanic.csv", "v2", "seq2")
    assert first != layout.run_id_for_upload("raw/other.csv", "v1", "seq1")
    assert first.startswith("titanic-") and layout.is_run_id(first)


def test_run_id_without_versioning_uses_the_sequencer():
    a = layout.run_id_for_upload("raw/a.csv", None, "0062E99A88DC407460")
    b = layout.run_id_for_upload("raw/a.csv", "null", "0062E99A88DC407461")
    assert a != b
    with pytest.raises(ValueError, match="neither a version id nor a sequencer"):
        layout.run_id_for_upload("raw/a.csv", None, None)


def test_run_id_slug_is_safe_for_keys_and_job_names():
    run_id = layout.run_id_for_upload("raw/My Data (2024) ÄÖ__final version with a long name.CSV", "v", None)
    assert re.fullmatch(r"[a-z0-9-]+", run_id)
    assert len(run_id) <= 35
    name = layout.job_name("a" * 20, run_id)
    assert len(name) <= 63
    assert layout.run_id_from_job_name("a" * 20, name) == run_id


def test_job_name_rejects_invalid_names():
    with pytest.raises(ValueError, match="not a valid SageMaker name"):
        layout.job_name("bad_prefix", "run-0123456789")


def test_run_id_from_key_reads_the_run_segment():
    keys = layout.RunKeys("titanic-0123456789")
    for key in (keys.profile, keys.split_manifest, keys.transform_output(0), keys.metrics, keys.frozen_spec):
        assert layout.run_id_from_key(key) == "titanic-0123456789"
    with pytest.raises(ValueError):
        layout.run_id_from_key("processed/not a run/manifest.json")


def test_model_artifact_key_follows_sagemaker_output_layout():
    assert layout.model_artifact_key("r-0123456789", "mlpipe-r-0123456789") == (
        "models/r-0123456789/mlpipe-r-0123456789/output/model.tar.gz"
    )


def _key_pattern(function) -> str:
    (route,) = [r for r in function.routes if r.pattern["source"] == ["aws.s3"]]
    (condition,) = route.pattern["detail"]["object"]["key"]
    return condition["wildcard"]


def test_template_routes_match_the_layout_markers():
    """The template's routes and the layout module describe the same keys."""
    stack = load_stack()
    fns = stack.functions
    keys = layout.RunKeys("titanic-0123456789")
    assert _key_pattern(fns["PreprocessFunction"]) == f"{layout.RAW}*.csv"
    assert _key_pattern(fns["TrainFunction"]) == f"{layout.SPLIT}*/{layout.MANIFEST}"
    assert keys.transform_output(0).startswith(layout.INFERENCE_OUTPUT) and keys.transform_output(0).endswith(".out")
    (evaluate_route,) = fns["EvaluateFunction"].routes
    assert evaluate_route.pattern["detail"]["Tags"] == {layout.RUN_KIND_TAG: [layout.TRAINING]}
    upload_route, transform_route = fns["ScoreFunction"].routes
    assert upload_route.pattern["detail"]["object"]["key"] == [{"wildcard": f"{layout.SCORE}*.csv"}]
    assert transform_route.pattern["detail"]["Tags"] == {layout.RUN_KIND_TAG: [layout.SCORING_RUN]}
    (infer_route,) = fns["InferFunction"].routes
    assert infer_route.pattern["detail"]["TrainingJobName"] == [{"prefix": f"{stack.parameters['JobNamePrefix']}-"}]
    # a Processing job's end comes back to preprocess (Completed) or to the failure function (Failed, Stopped)
    (processed,) = [r for r in fns["PreprocessFunction"].routes if r.pattern["source"] == ["aws.sagemaker"]]
    assert processed.pattern["detail"]["ProcessingJobStatus"] == ["Completed"]
    failed = [r for r in fns["FailureFunction"].routes if r.pattern.get("detail-type") == ["SageMaker Processing Job State Change"]]
    assert [r.pattern["detail"]["ProcessingJobStatus"] for r in failed] == [["Failed", "Stopped"]]


def test_a_dataset_is_the_folder_under_raw_or_the_default():
    assert layout.dataset_of_upload("raw/titanic.csv", "titanic") == "titanic"
    assert layout.dataset_of_upload("raw/iris/2024/flowers.csv", "titanic") == "iris"
    assert layout.upload_key("iris", "a.csv") == "raw/iris/a.csv" and layout.upload_key(None, "a.csv") == "raw/a.csv"
    assert layout.spec_key("iris") == "specs/iris.yaml"
    assert layout.dataset_of_upload("score/iris/a.csv", "titanic") == "iris"
    assert layout.dataset_of_upload("score/a.csv", "titanic") == "titanic"
    with pytest.raises(ValueError):
        layout.dataset_of_upload("specs/iris.yaml", "titanic")


def test_dataset_names_map_to_distinct_valid_sagemaker_names():
    assert layout.sagemaker_part("iris", 20) == "iris"  # already valid: unchanged
    names = {layout.sagemaker_part(text, 20) for text in ("My Data", "my-data", "my_data", "MY DATA", "x" * 40, "x" * 41, "été 2024")}
    assert len(names) == 7
    for name in names:
        assert re.fullmatch(r"[a-z0-9](-*[a-z0-9])*", name) and len(name) <= 20


def test_part_files_are_numbered_and_read_back():
    keys = layout.RunKeys("titanic-0123456789")
    assert keys.train_part(3) == "splitData/titanic-0123456789/train/part-00003.csv"
    assert layout.part_index(keys.transform_output(12)) == 12 and layout.part_index(keys.labels_part(7)) == 7
