"""The offline SageMaker's List*Jobs and ListTags answer as SageMaker does (what `mlpipe event` picks its default job from)."""

from mlpipe.offline.sagemaker import OfflineSageMaker


def offline_with_jobs() -> OfflineSageMaker:
    sagemaker = OfflineSageMaker(None, None, "us-east-1")
    for created, name, status in ((3.0, "mlpipe-b", "Completed"), (1.0, "mlpipe-a", "Failed"), (2.0, "other-c", "Completed"),
                                  (4.0, "mlpipe-d", "Completed")):
        arn = sagemaker.arn("training-job", name)
        sagemaker.training_jobs[name] = {"TrainingJobName": name, "TrainingJobArn": arn, "TrainingJobStatus": status,
                                         "SecondaryStatus": status, "CreationTime": created, "LastModifiedTime": created,
                                         "HyperParameters": {"num_round": "5"}}
        sagemaker.tags[arn] = [{"Key": "mlpipe:run-id", "Value": name}]
    return sagemaker


def names(answer: dict) -> list[str]:
    return [job["TrainingJobName"] for job in answer["TrainingJobSummaries"]]


def test_jobs_are_listed_by_creation_time_filtered_by_name_and_status_summaries_only():
    sagemaker = offline_with_jobs()
    assert names(sagemaker.call("ListTrainingJobs", {})) == ["mlpipe-a", "other-c", "mlpipe-b", "mlpipe-d"]  # Ascending by default
    newest = sagemaker.call("ListTrainingJobs", {"NameContains": "mlpipe-", "StatusEquals": "Completed", "SortOrder": "Descending"})
    assert names(newest) == ["mlpipe-d", "mlpipe-b"]
    assert "HyperParameters" not in newest["TrainingJobSummaries"][0]
    assert names(sagemaker.call("ListTrainingJobs", {"SortBy": "Name"})) == ["mlpipe-a", "mlpipe-b", "mlpipe-d", "other-c"]


def test_pages_follow_next_token():
    sagemaker = offline_with_jobs()
    first = sagemaker.call("ListTrainingJobs", {"MaxResults": 3})
    assert names(first) == ["mlpipe-a", "other-c", "mlpipe-b"] and first["NextToken"]
    rest = sagemaker.call("ListTrainingJobs", {"MaxResults": 3, "NextToken": first["NextToken"]})
    assert names(rest) == ["mlpipe-d"] and "NextToken" not in rest


def test_tags_of_a_resource():
    sagemaker = offline_with_jobs()
    arn = sagemaker.training_jobs["mlpipe-b"]["TrainingJobArn"]
    assert sagemaker.call("ListTags", {"ResourceArn": arn}) == {"Tags": [{"Key": "mlpipe:run-id", "Value": "mlpipe-b"}]}
    assert sagemaker.call("ListTags", {"ResourceArn": arn + "x"}) == {"Tags": []}
