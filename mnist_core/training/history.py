"""A run's loss and accuracy history: the tutorial's four lists, plus accuracy, resume and stop points.

The training thread appends to a ``History`` while pages read it every half second. Appending is O(1),
and ``History.snapshot()`` is a frozen view that shares storage with the growing history instead of
copying it, so a logged batch costs the same at the 6-millionth point as at the first (a full copy took
111 ms at 6 million points). For drawing, ``downsample_min_max`` cuts a long curve to a few thousand
points and keeps every spike.

    history = History()
    history.train_losses.append(2.3)      # the writer (engine) appends, or truncates after a divergence
    frozen = history.snapshot()           # readers get a view: later appends never show in it
    history.to_dict()                     # plain lists, for checkpoints
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

BLOCK_POINTS = 65_536  # values per full storage block (512 KB of float64): a snapshot copies one reference per block
FIRST_BLOCK_POINTS = 64  # a new column starts this small and doubles, so the many short histories stay small
INT64 = np.iinfo(np.int64)
FLOAT_COLUMNS = ("train_losses", "test_losses", "test_accuracy")  # the rest count examples: whole numbers


class _Blocks(Sequence):
    """A column of numbers held in numpy blocks; every block but the last holds BLOCK_POINTS values.

    Items come out as Python numbers (float or int), as they went in, so pickles and checkpoints made
    from them hold no numpy types.
    """

    __slots__ = ("_blocks", "_length", "_dtype")

    def __init__(self, blocks: Sequence[np.ndarray], length: int, dtype: np.dtype) -> None:
        self._blocks = blocks
        self._length = length
        self._dtype = dtype

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.to_numpy()[index].tolist()
        if not isinstance(index, numbers.Integral):
            raise TypeError(f"column indices must be integers or slices, not {type(index).__name__}")
        length = self._length
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError("history column index out of range")
        return self._blocks[index // BLOCK_POINTS][index % BLOCK_POINTS].item()

    def __iter__(self):
        return iter(self.to_numpy().tolist())

    def __eq__(self, other) -> bool:
        if isinstance(other, _Blocks):
            return self._length == other._length and bool(np.array_equal(self.to_numpy(), other.to_numpy()))
        if isinstance(other, (list, tuple)):
            return self.tolist() == list(other)
        return NotImplemented

    __hash__ = None  # mutable, like a list

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tolist()!r})"

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self.to_numpy()
        return values if dtype is None else values.astype(dtype)

    def to_numpy(self) -> np.ndarray:
        """The values as one array (a copy when the column spans several blocks)."""
        length = self._length
        if length == 0:
            return np.empty(0, self._dtype)
        n_blocks = -(-length // BLOCK_POINTS)
        last = self._blocks[n_blocks - 1][: length - (n_blocks - 1) * BLOCK_POINTS]
        if n_blocks == 1:
            return last.copy()
        return np.concatenate([*self._blocks[: n_blocks - 1], last])

    def tolist(self) -> list:
        return self.to_numpy().tolist()

    def copy(self) -> "Column":
        """An independent, appendable column with the same values."""
        column = Column(dtype=self._dtype)
        column._set_array(self.to_numpy())
        return column


class ColumnView(_Blocks):
    """A frozen prefix of a Column: it shares the column's blocks and never changes.

    The column writes only past every view's end, and copies a block before truncating into it.
    """

    __slots__ = ()

    def snapshot(self) -> "ColumnView":
        return self


class Column(_Blocks):
    """An append-only column of numbers (the writer's side): O(1) append, O(1) snapshot, truncation."""

    __slots__ = ()

    def __init__(self, values: Iterable = (), dtype=np.float64) -> None:
        super().__init__([], 0, np.dtype(dtype))
        self.extend(values)

    def _set_array(self, values: np.ndarray) -> None:
        """Hold exactly these values, in fresh blocks (views keep the old ones)."""
        self._blocks = [values[start:start + BLOCK_POINTS].copy() for start in range(0, len(values), BLOCK_POINTS)]
        self._length = len(values)

    def append(self, value) -> None:
        length = self._length
        offset = length % BLOCK_POINTS
        if offset == 0 and (not self._blocks or len(self._blocks[-1]) == BLOCK_POINTS):
            self._blocks.append(np.empty(FIRST_BLOCK_POINTS if not self._blocks else BLOCK_POINTS, self._dtype))
        elif offset == len(self._blocks[-1]):
            # The last block is full below BLOCK_POINTS: grow it into a new array (views keep the old one).
            grown = np.empty(min(2 * offset, BLOCK_POINTS), self._dtype)
            grown[:offset] = self._blocks[-1]
            self._blocks[-1] = grown
        self._blocks[-1][offset] = value
        self._length = length + 1

    def extend(self, values: Iterable) -> None:
        added = np.asarray(values if isinstance(values, (np.ndarray, Sequence)) else list(values), self._dtype)
        if added.ndim != 1:
            raise TypeError(f"a history column holds single numbers, got an array of shape {added.shape}")
        if len(added):
            self._set_array(np.concatenate([self.to_numpy(), added]) if self._length else added)

    def __delitem__(self, index) -> None:
        """Drop items; ``del column[n:]`` (the engine's restore after a divergence) keeps views intact."""
        if isinstance(index, slice) and index.step in (None, 1) and index.stop is None:
            keep = range(self._length)[index].start
            n_full, offset = divmod(keep, BLOCK_POINTS)
            blocks = self._blocks[:n_full]
            if offset:
                blocks.append(self._blocks[n_full].copy())  # views may still read past `keep` in this block
            self._blocks, self._length = blocks, keep
            return
        values = self.tolist()
        del values[index]
        self._set_array(np.asarray(values, self._dtype))

    def snapshot(self) -> ColumnView:
        """A frozen view of the values so far; call it from the thread that appends."""
        return ColumnView(tuple(self._blocks), self._length, self._dtype)


def _checked_numbers(values: Iterable, whole: bool, name: str):
    """The values, or TypeError naming the first that is not a real number (a whole one for counters).

    A checkpoint's history passes through here: numpy would quietly turn True into 1.0 or 1.5 into 1.
    """
    kind = "whole numbers" if whole else "numbers"
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in ("iu" if whole else "iuf"):
            raise TypeError(f"history {name} must hold {kind}, got an array of {values.dtype} and shape {values.shape}")
        return values
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"history {name} must be a list of {kind}, got {type(values).__name__}")
    checked = list(values)
    allowed = numbers.Integral if whole else numbers.Real
    for value in checked:
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise TypeError(f"history {name} must hold {kind}, found {type(value).__name__} {value!r}")
        if whole and not INT64.min <= value <= INT64.max:
            raise TypeError(f"history {name} holds {value}, beyond a 64-bit count")
    return checked


@dataclass
class History:
    """The tutorial's four lists, plus accuracy, where continued runs began and where runs stopped mid-epoch.

    Each field is a Column (appendable) or, in a snapshot, a ColumnView (frozen). Both read like lists:
    len, indexing, iteration, == with a list; ``to_numpy()`` gives an array.
    """

    train_losses: Sequence[float] = field(default_factory=list)
    train_counter: Sequence[int] = field(default_factory=list)  # examples seen when each train loss was taken
    test_losses: Sequence[float] = field(default_factory=list)
    test_counter: Sequence[int] = field(default_factory=list)  # examples seen when each test ran
    test_accuracy: Sequence[float] = field(default_factory=list)  # fraction correct, 0-1
    resume_points: Sequence[int] = field(default_factory=list)  # examples seen where a continued run began
    # Examples seen where a run ended inside an epoch (a Stop, or the last good weights a divergence kept): that
    # epoch is partial until a test at a higher count, since a continued run finishes it first.
    stop_points: Sequence[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.column_names():
            values = getattr(self, name)
            if not isinstance(values, _Blocks):
                whole = name not in FLOAT_COLUMNS
                setattr(self, name, Column(_checked_numbers(values, whole, name), np.int64 if whole else np.float64))

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict[str, list]:
        return {name: getattr(self, name).tolist() for name in self.column_names()}

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        """Raises TypeError when a field is not a list of numbers of its kind."""
        return cls(**{name: values.get(name, []) for name in cls.column_names()})

    def copy(self) -> "History":
        """An independent, appendable copy (O(n)): for a state another thread will train or save."""
        return History(**{name: getattr(self, name).copy() for name in self.column_names()})

    @property
    def last_test_accuracy(self) -> float | None:
        """The latest test's fraction correct, 0-1; None before any test."""
        return float(self.test_accuracy[-1]) if len(self.test_accuracy) else None

    def partial_epoch(self) -> tuple[int, int] | None:
        """(epoch, examples trained in it) for an epoch a run stopped inside and no test has closed since;
        None when the last epoch ran to its end. Epochs are counted by their tests (the test before training
        is epoch 0's), so the interrupted epoch is the one after the last test."""
        if not len(self.stop_points) or not len(self.test_counter):
            return None
        stopped, tested = self.stop_points[-1], self.test_counter[-1]
        return (len(self.test_counter), stopped - tested) if stopped > tested else None

    def snapshot(self) -> "History":
        """A frozen view for readers in other threads, in O(1) for any length.

        Call it from the thread that appends (between its appends), so the columns agree in length.
        """
        return History(**{name: getattr(self, name).snapshot() for name in self.column_names()})


def downsample_min_max(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most max_points of the curve (x, y): the first and last points, and each bucket's lowest and
    highest y, in their order along the curve, so a one-batch spike stays on the chart.

    The buckets hold equal numbers of consecutive points. y must be finite (the engine stops at a NaN).
    """
    n = len(y)
    if len(x) != n:
        raise ValueError(f"x and y differ in length: {len(x)} and {n}.")
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4 (first, last and one bucket's two), got {max_points}.")
    if n <= max_points:
        return np.asarray(x), np.asarray(y)
    y = np.asarray(y)
    n_buckets = (max_points - 2) // 2
    bucket = -(-n // n_buckets)  # points per bucket, rounded up so n_buckets buckets cover the curve
    whole = n // bucket * bucket
    rows = y[:whole].reshape(-1, bucket)
    starts = np.arange(0, whole, bucket)
    picked = [[0, n - 1], starts + rows.argmin(axis=1), starts + rows.argmax(axis=1)]
    if whole < n:  # the last, shorter bucket
        tail = y[whole:]
        picked.append([whole + int(tail.argmin()), whole + int(tail.argmax())])
    indices = np.unique(np.concatenate(picked))  # sorted: the points keep their order along x
    return np.asarray(x)[indices], y[indices]
