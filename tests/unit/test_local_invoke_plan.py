"""make local-invoke covers every sample event, and runs an event after the ones whose outputs it reads."""

from mlpipe import event_cmd, local_invoke
from tests.conftest import EVENTS


def test_every_sample_event_has_a_step_and_a_function():
    files = {path.stem for path in EVENTS.glob("*.json")}
    assert files == set(local_invoke.STEPS) == set(event_cmd.EVENTS)


def test_an_event_runs_after_what_it_needs_and_a_function_name_means_its_first_event():
    assert [step.event for step in local_invoke.plan(["infer"])] == [
        "preprocess_raw_csv_created", "train_split_manifest_created", "infer_training_job_completed"]
    order = [step.event for step in local_invoke.plan()]
    assert len(order) == len(local_invoke.STEPS)
    for step in local_invoke.STEPS.values():
        assert all(order.index(need) < order.index(step.event) for need in step.needs)
    assert event_cmd.resolve_name("events/score_transform_job_completed.json") == "score_transform_job_completed"
    assert event_cmd.resolve_name("failure") == "failure_training_job_failed"
