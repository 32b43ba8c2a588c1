"""A run's SGD steps and its smoothed time estimate (mnist_core.runtime.progress)."""

from __future__ import annotations

import pytest

from mnist_core.runtime.progress import (RATE_HALF_LIFE_SECONDS, RateEstimate, epochs_for_steps, eta_seconds,
                                         sgd_steps, smoothed_rate)


def test_the_tutorials_steps_on_the_embedded_digits_and_on_full_mnist():
    assert sgd_steps(4_000, 64, 3) == 189  # 63 batches an epoch, the last one short (32 images)
    assert sgd_steps(60_000, 64, 3) == 2_814
    assert sgd_steps(4_000, 4_000) == 1 and sgd_steps(4_000, 4_096) == 1
    assert epochs_for_steps(2_814, 4_000, 64) == 45  # 45 x 63 = 2,835, the first count at or past 2,814


def test_the_speed_starts_from_the_first_interval_not_from_the_clocks_start():
    """The job's clock starts before the test that precedes training: 2 examples after 1.5 s say nothing of
    the speed. The first interval between two measurements with examples done does."""
    assert smoothed_rate(None, 0, 0.4).rate is None  # the test before training: nothing trained yet
    start = smoothed_rate(smoothed_rate(None, 0, 0.4), 2, 1.5)
    assert start == RateEstimate(2, 1.5, None)
    assert smoothed_rate(start, 222, 2.5) == RateEstimate(222, 2.5, 220.0)


def test_a_stall_moves_the_estimate_a_little_and_a_lasting_slowdown_shows():
    """Steady 1,000 examples/s for 10 s, measured every second as the page polls; then one second with nothing
    trained (a test pass, a checkpoint write, a busy CPU); then half the speed for good (another job started)."""
    estimate = None
    for second in range(1, 11):
        estimate = smoothed_rate(estimate, 1_000 * second, float(second))
    assert estimate.rate == pytest.approx(1_000)
    stalled = smoothed_rate(estimate, 10_000, 11.0)
    assert stalled.rate == pytest.approx(1_000 * 0.5 ** (1 / RATE_HALF_LIFE_SECONDS))
    # The speed of that one second alone is 0: an estimate from it would say "never". Smoothed, the time
    # left grows by under a sixth.
    assert eta_seconds(10_000, stalled.rate) < 1.16 * eta_seconds(10_000, estimate.rate)
    slower = stalled
    for second in range(1, 4 * int(RATE_HALF_LIFE_SECONDS) + 1):
        slower = smoothed_rate(slower, 10_000 + 500 * second, 11.0 + second)
    assert slower.rate == pytest.approx(500, rel=0.1)  # four half-lives on, it reads the new speed


def test_the_same_measurement_twice_changes_nothing():
    estimate = smoothed_rate(smoothed_rate(None, 640, 2.0), 1_280, 3.0)
    assert smoothed_rate(estimate, 1_280, 3.0) == estimate  # two views drawn from one snapshot


def test_a_measurement_from_a_new_run_starts_over():
    old = smoothed_rate(smoothed_rate(None, 6_400, 10.0), 12_000, 20.0)
    assert old.rate == 560.0
    assert smoothed_rate(old, 640, 1.0) == RateEstimate(640, 1.0, None)


def test_eta_needs_a_positive_rate():
    assert eta_seconds(1_000, None) is None and eta_seconds(1_000, 0.0) is None
    assert eta_seconds(1_000, 500.0) == 2.0
    assert eta_seconds(-5, 500.0) == 0.0  # the last batch overshoots the planned count: no negative time
