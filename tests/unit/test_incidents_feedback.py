"""Feedback through the AI tier's real batch processing: a benign daily job stops alerting, a real incident does not."""

from __future__ import annotations

import json

import pytest
from iops_detector_sdk.contract import Point

from iops.logic import feedback
from iops.settings import AiSettings
from local import feedback_eval
from local.feedback_eval import START, job_days
from local.feedback_eval import is_job as job


def run(ddb, verdict: str | None) -> tuple[list, int]:
    flagged, sent = feedback_eval.run(ddb, AiSettings.from_env(), verdict)
    return flagged, len(sent)


def test_without_feedback_the_job_is_flagged_and_notified_every_day(ddb) -> None:
    flagged, notified = run(ddb, None)
    assert job_days(flagged) == {0, 1, 2, 3}
    assert notified >= 4  # a new incident per nightly run (more than the quiet time apart)


def test_not_an_anomaly_on_the_job_stops_it_from_the_next_day_and_real_incidents_stay(ddb) -> None:
    flagged, notified = run(ddb, "not_an_anomaly")
    assert job_days(flagged) == {0}  # only the run the feedback was given on
    real = [i for i in flagged if not job(i)]
    assert [i.observed for i in real if i.observed > 90] == [98.0]  # the job's time of day, another kind
    assert len([i for i in real if i.observed < 90]) == 3  # the job's level at another time of day
    assert notified == 1 + 2  # day 1's job, then the two real incidents of day 3


def test_too_sensitive_raises_the_series_threshold_above_what_the_detector_scores(ddb) -> None:
    flagged, _ = run(ddb, "too_sensitive")
    assert job_days(flagged) == {0, 1, 2, 3}  # one step (+0.1) stays below the oracle's 0.95
    raised = feedback.rules_of({"boost": 0.5})
    assert raised.threshold(0.5273) == feedback.MAX_THRESHOLD
    assert not raised.flags(Point(START, 50.0), 0.9, 0.5273) and raised.flags(Point(START, 50.0), 0.96, 0.5273)


@pytest.mark.slow
def test_iops_evaluate_feedback_reports_alerts_per_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    assert main(["evaluate", "--feedback", "--json"]) == 0
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    assert verdicts["none"]["job_flagged_on_days"] == [0, 1, 2, 3]
    assert verdicts["not_an_anomaly"]["job_flagged_on_days"] == [0]
    assert verdicts["not_an_anomaly"]["notifications"] < verdicts["none"]["notifications"]
    assert verdicts["not_an_anomaly"]["real_incident_insights"] == verdicts["none"]["real_incident_insights"]
