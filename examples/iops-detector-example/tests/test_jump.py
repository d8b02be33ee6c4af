from iops_detector_example import JumpDetector
from iops_detector_sdk.contract import Point, SeriesKey
from iops_detector_sdk.testing import assert_detector_contract


def test_meets_the_detector_contract() -> None:
    figures = assert_detector_contract(JumpDetector())
    assert figures["max_score"] > 0.9  # the kit's series has a spike this detector must see


def test_a_jump_scores_high_and_steady_change_low() -> None:
    det = JumpDetector()
    state = det.new_state(SeriesKey("h", "m"))
    ramp = [Point(60.0 * i, float(i)) for i in range(100)]
    scores = det.score(SeriesKey("h", "m"), state, ramp + [Point(6000.0, 500.0)])
    assert max(scores[:-1]) < 0.1 and scores[-1] > 0.99
