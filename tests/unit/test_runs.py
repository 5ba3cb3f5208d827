"""The status record's transitions, on plain dicts."""

from pipeline_common import runs

T0, T1, T2 = "2026-11-25T09:00:00.000+00:00", "2026-11-25T09:00:01.500+00:00", "2026-11-25T09:00:03.000+00:00"


def test_stages_record_start_end_and_duration():
    doc = runs.stage_started(runs.new_status("r-0123456789", T0), "preprocess", T0)
    assert doc["stage"] == "preprocess" and doc["stages"]["preprocess"]["status"] == "running"
    doc = runs.stage_finished(doc, "preprocess", T1, rows=891)
    assert doc["stages"]["preprocess"] == {"status": "succeeded", "started_at": T0, "finished_at": T1, "seconds": 1.5, "rows": 891}
    assert runs.stage_finished(doc, "preprocess", T2)["stages"]["preprocess"]["seconds"] == 1.5  # a duplicate keeps the first end


def test_success_and_failure_are_final():
    succeeded = runs.run_succeeded(runs.new_status("r-0123456789", T0), T1, {"accuracy": 0.8})
    assert runs.run_failed(succeeded, T2, "infer", "late")["status"] == "succeeded"
    failed = runs.run_failed(runs.new_status("r-0123456789", T0), T1, "train", "job failed")
    assert failed["failure"] == {"stage": "train", "reason": "job failed", "details": {}}
    assert runs.run_failed(failed, T2, "infer", "second")["failure"]["stage"] == "train"
    assert runs.run_succeeded(failed, T2, {"accuracy": 0.8})["status"] == "failed"
    assert runs.stage_started(failed, "infer", T2)["stage"] == "train"  # a late duplicate does not revive it
