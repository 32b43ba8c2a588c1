"""History: O(1) snapshots that later appends and truncations never change, and the min/max downsampler."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mnist_core.training.history import (BLOCK_POINTS, FIRST_BLOCK_POINTS, Column, ColumnView, History,
                                downsample_min_max)


def filled(n: int) -> History:
    history = History()
    for i in range(n):
        history.train_losses.append(1.0 / (i + 1))
        history.train_counter.append(64 * i)
    return history


def test_fields_read_like_the_lists_they_replace():
    history = History(train_losses=[2.3, 1.1], train_counter=[0, 640], test_accuracy=[0.1])
    assert history.train_losses == [2.3, 1.1] and len(history.train_counter) == 2
    assert history.train_losses[-1] == 1.1 and type(history.train_counter[-1]) is int
    assert history.train_losses[0:1] == [2.3] and list(history.train_counter) == [0, 640]
    assert history.test_losses == [] and not history.test_losses
    assert [100 * a for a in history.test_accuracy] == [10.0]
    with pytest.raises(IndexError):
        history.test_losses[0]


def test_to_dict_gives_plain_python_lists_and_from_dict_round_trips():
    history = filled(BLOCK_POINTS + 5)  # spans two blocks
    history.resume_points.append(640)
    values = history.to_dict()
    assert all(type(v) is list for v in values.values())
    assert type(values["train_losses"][0]) is float and type(values["train_counter"][0]) is int
    again = History.from_dict(values)
    assert again == history and again.to_dict() == values


@pytest.mark.parametrize("bad", [[True], ["0.5"], [None], "12", 5, [[1.0]]])
def test_from_dict_refuses_what_is_not_a_list_of_numbers_with_typeerror(bad):
    with pytest.raises(TypeError):  # the checkpoint loader turns TypeError into CheckpointError
        History.from_dict({"train_losses": bad})


def test_counters_refuse_fractions_and_counts_beyond_64_bits():
    with pytest.raises(TypeError):
        History.from_dict({"train_counter": [1.5]})
    with pytest.raises(TypeError):
        History.from_dict({"test_counter": [2**63]})
    assert History.from_dict({"train_losses": [1]}).train_losses == [1.0]  # an int loss is a number


def test_a_snapshot_never_changes_after_more_appends():
    history = filled(FIRST_BLOCK_POINTS - 1)
    frozen = history.snapshot()
    expected = frozen.to_dict()
    for i in range(3 * BLOCK_POINTS):  # grows the first block, fills it, adds more
        history.train_losses.append(-1.0)
        history.train_counter.append(i)
    assert frozen.to_dict() == expected
    assert isinstance(frozen.train_losses, ColumnView)
    assert not hasattr(frozen.train_losses, "append")


def test_the_divergence_restore_truncates_without_touching_snapshots():
    history = filled(BLOCK_POINTS + 100)
    before = history.snapshot()
    expected = before.to_dict()
    keep = BLOCK_POINTS + 10  # inside the second block, which `before` still reads past
    for name in History.column_names():
        del getattr(history, name)[keep:]
    history.train_losses.append(99.0)
    history.train_counter.append(99)
    assert len(history.train_losses) == keep + 1 and history.train_losses[keep] == 99.0
    assert history.train_losses[:keep] == expected["train_losses"][:keep]
    assert before.to_dict() == expected


def test_other_deletions_behave_like_a_list():
    column = Column(range(10), np.int64)
    reference = list(range(10))
    for index in (3, slice(1, 4), slice(None, None, 2), -1):
        del column[index]
        del reference[index]
        assert column == reference


def test_copy_is_independent_of_the_original():
    history = filled(10)
    copied = history.copy()
    copied.train_losses.append(5.0)
    history.train_losses[0]  # still readable
    assert len(history.train_losses) == 10 and len(copied.train_losses) == 11


def test_appends_and_snapshots_copy_no_full_block():
    """O(1) per logged batch: full blocks are never copied again, and a snapshot shares them."""
    column = Column()
    for i in range(2 * BLOCK_POINTS + 5):
        column.append(float(i))
    full = list(column._blocks[:-1])
    frozen = column.snapshot()
    for i in range(BLOCK_POINTS):
        column.append(float(i))
    assert all(now is before for now, before in zip(column._blocks, full))
    assert all(shared is own for shared, own in zip(frozen._blocks, full))
    assert all(len(block) == BLOCK_POINTS for block in column._blocks[:-1])


def test_a_reader_thread_always_sees_columns_of_equal_length():
    history = History()
    seen: list[tuple[int, int]] = []
    snapshots: list[History] = [history.snapshot()]
    done = threading.Event()

    def read():
        while not done.is_set():
            frozen = snapshots[-1]
            seen.append((len(frozen.train_losses), len(frozen.train_counter)))
            assert frozen.train_counter.to_numpy().tolist() == list(range(len(frozen.train_counter)))

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20_000):
        history.train_losses.append(0.5)
        history.train_counter.append(i)
        snapshots.append(history.snapshot())
    done.set()
    reader.join()
    assert seen and all(a == b for a, b in seen)


# --- downsampling ------------------------------------------------------------------------------


def test_short_curves_pass_through_unchanged():
    x, y = np.arange(100), np.linspace(1, 0, 100)
    out_x, out_y = downsample_min_max(x, y, 5_000)
    assert np.array_equal(out_x, x) and np.array_equal(out_y, y)


@pytest.mark.parametrize("n", [5_001, 123_457, 1_000_000])
def test_the_point_count_is_bounded_and_the_ends_kept(n):
    rng = np.random.default_rng(0)
    x, y = np.arange(n) * 64, rng.random(n)
    out_x, out_y = downsample_min_max(x, y, 5_000)
    assert len(out_x) == len(out_y) <= 5_000
    assert len(out_x) > 3_000  # buckets of whole points: at worst 3 points give 2, two thirds of the budget
    assert out_x[0] == x[0] and out_x[-1] == x[-1]
    assert np.all(np.diff(out_x) > 0)  # in order along x, no point twice
    assert np.array_equal(out_y, y[out_x // 64])  # real points, not averages


@pytest.mark.parametrize("where", [1, 77_777, 199_998])
def test_a_one_batch_spike_and_dip_survive(where):
    y = np.full(200_000, 0.3)
    y[where] = 9.0  # a spike of one logged batch
    y[where - 1] = 0.01  # and a dip beside it
    x = np.arange(len(y))
    out_x, out_y = downsample_min_max(x, y, 1_000)
    assert 9.0 in out_y and 0.01 in out_y
    assert out_x[np.argmax(out_y)] == where and out_x[np.argmin(out_y)] == where - 1
    assert out_y.max() == y.max() and out_y.min() == y.min()


def test_every_bucket_keeps_its_extremes():
    rng = np.random.default_rng(1)
    y = rng.normal(size=50_000)
    out_x, out_y = downsample_min_max(np.arange(50_000), y, 500)
    bucket = -(-50_000 // 249)
    for start in range(0, 50_000, bucket):
        part = y[start:start + bucket]
        assert part.max() in out_y and part.min() in out_y


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        downsample_min_max(np.arange(3), np.arange(4), 100)
    with pytest.raises(ValueError):
        downsample_min_max(np.arange(10), np.arange(10), 3)


def test_history_columns_downsample_directly():
    history = filled(20_000)
    frozen = history.snapshot()
    x, y = downsample_min_max(frozen.train_counter.to_numpy(), frozen.train_losses.to_numpy(), 2_000)
    assert len(x) <= 2_000 and y.max() == 1.0
