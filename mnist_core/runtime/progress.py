"""How far a training run goes and how long it has left: its SGD steps, and a time estimate from a smoothed speed.

    steps = sgd_steps(n_train=4_000, batch_size=64, n_epochs=3)       # 189: 3 epochs of 63 batches
    estimate = smoothed_rate(None, examples=640, seconds=1.0)         # a start; then every new (examples, seconds)
    eta_seconds(12_000 - estimate.examples, estimate.rate)

The job measures the speed at every event of its run (runtime.job), so every tab of a session shows the same
one: an exponential moving average over the job's own clock, not over the times a page happens to look. A test
pass between epochs or one slow batch moves it a little; a lasting change (another learner's job starts) shows
within a few half-lives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FULL_MNIST_TRAIN = 60_000  # images in MNIST's own training split
TUTORIAL_FULL_MNIST_ACCURACY = 97.1  # percent: the tutorial's test accuracy after its 3 epochs on full MNIST
# Seconds of training after which an old speed counts half: about one epoch of the embedded digits on a CPU,
# so a test pass between epochs moves the estimate by a few percent, not by half.
RATE_HALF_LIFE_SECONDS = 5.0


def sgd_steps(n_train: int, batch_size: int, n_epochs: int = 1) -> int:
    """Optimizer steps in n_epochs over n_train images (the last batch of an epoch may be short)."""
    return n_epochs * math.ceil(n_train / batch_size)


def epochs_for_steps(steps: int, n_train: int, batch_size: int) -> int:
    """The fewest epochs over n_train images that take at least `steps` optimizer steps."""
    return math.ceil(steps / sgd_steps(n_train, batch_size))


@dataclass(frozen=True)
class RateEstimate:
    examples: int  # examples trained in the run when last measured
    seconds: float  # the run's training clock then
    rate: float | None  # smoothed examples per second; None until some example is trained


def smoothed_rate(previous: RateEstimate | None, examples: int, seconds: float,
                  half_life_seconds: float = RATE_HALF_LIFE_SECONDS) -> RateEstimate:
    """The estimate after one more measurement (examples done, seconds elapsed) of the same run.

    The first measurement with any example done is only a starting point: the clock before it also ran the
    test before training, which would make the first speed far too low. The speed over the next interval
    starts the rate; each later one moves it toward the speed since the previous measurement, by more the
    longer that interval was. A measurement that goes back in time or in examples belongs to a new run: the
    estimate starts again from it.
    """
    if previous is None or examples < previous.examples or seconds < previous.seconds or previous.examples == 0:
        return RateEstimate(examples, seconds, None)  # a starting point (none yet while nothing is trained)
    interval = seconds - previous.seconds
    if interval <= 0:  # the same measurement again
        return previous
    recent = (examples - previous.examples) / interval
    if previous.rate is None:
        return RateEstimate(examples, seconds, recent)
    weight = 1 - 0.5 ** (interval / half_life_seconds)
    return RateEstimate(examples, seconds, previous.rate + weight * (recent - previous.rate))


def eta_seconds(remaining_examples: int, rate: float | None) -> float | None:
    """Seconds left at `rate` examples per second; None without a rate."""
    if rate is None or rate <= 0:
        return None
    return max(0, remaining_examples) / rate
