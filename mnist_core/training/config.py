"""The tutorial's hyperparameters as one typed, validated object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

# Upper bounds keep a learner's typo from starting a week-long run or exhausting memory.
MAX_EPOCHS = 100
# Memory: a training step holds about 75 KB of activations and gradients per image (4,096: about 300 MB);
# testing needs no gradients.
MAX_TRAIN_BATCH_SIZE = 4_096
MAX_TEST_BATCH_SIZE = 10_000
MAX_LOG_INTERVAL = 10_000
MAX_LEARNING_RATE = 10.0
MAX_SEED = 2**32 - 1


class ConfigError(ValueError):
    """An unusable hyperparameter. ``rule`` and the numbers let a UI word the reason in any language.

    rule: "whole_number", "number", "range" (low <= value <= high), "learning_rate" (0 < value <= high),
    "momentum" (low <= value < high) or "device" (value not among DEVICE_CHOICES).
    """

    def __init__(self, message: str, field: str, rule: str, value: Any, low: Any = None, high: Any = None):
        super().__init__(message)
        self.field, self.rule, self.value, self.low, self.high = field, rule, value, low, high


def _setting(default: Any, help: str) -> Any:
    """A field whose explanation is kept at runtime, for the CLI's --help and the UI's tooltips."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    n_epochs: int = _setting(3, "passes over the training split")
    batch_size_train: int = _setting(64, "images per SGD step")
    batch_size_test: int = _setting(1000, "images per forward pass when testing (no effect on results)")
    learning_rate: float = _setting(0.01, "SGD step size")
    momentum: float = _setting(0.5, "SGD momentum, at least 0 and below 1")
    log_interval: int = _setting(10, "record the training loss every this many batches")
    random_seed: int = _setting(1, "seeds weight initialisation, dropout and shuffling")
    device: str = _setting("auto", "auto picks cuda, then mps, then cpu")

    def __post_init__(self) -> None:
        _check_int("n_epochs", self.n_epochs, 1, MAX_EPOCHS, "the number of epochs")
        _check_int("batch_size_train", self.batch_size_train, 1, MAX_TRAIN_BATCH_SIZE, "the training batch size")
        _check_int("batch_size_test", self.batch_size_test, 1, MAX_TEST_BATCH_SIZE, "the test batch size")
        _check_int("log_interval", self.log_interval, 1, MAX_LOG_INTERVAL, "the log interval")
        _check_int("random_seed", self.random_seed, 0, MAX_SEED, "the random seed")
        _check_number("learning_rate", self.learning_rate)
        if not (0 < self.learning_rate <= MAX_LEARNING_RATE):  # also rejects NaN
            raise ConfigError(
                f"learning_rate must be above 0 and at most {MAX_LEARNING_RATE:g}, got {self.learning_rate}. "
                "The tutorial uses 0.01.",
                "learning_rate", "learning_rate", self.learning_rate, 0, MAX_LEARNING_RATE,
            )
        _check_number("momentum", self.momentum)
        if not (0 <= self.momentum < 1):
            raise ConfigError(
                f"momentum must be at least 0 and below 1, got {self.momentum}. "
                "At 1 or more the updates never die out. The tutorial uses 0.5.",
                "momentum", "momentum", self.momentum, 0, 1,
            )
        if self.device not in DEVICE_CHOICES:
            raise ConfigError(
                f"device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}.",
                "device", "device", self.device,
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build from a dict, ignoring unknown keys (e.g. from a newer checkpoint)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def help(cls, name: str) -> str:
        """The one-line explanation of a field, in English."""
        return next(f.metadata["help"] for f in fields(cls) if f.name == name)


def config_errors(values: dict[str, Any]) -> list[ConfigError]:
    """Every field in values that TrainConfig refuses, each checked on its own, so a form can name them all.

    TrainConfig itself stops at the first bad field. Fields left out of values take the tutorial's defaults.
    """
    defaults = TrainConfig().to_dict()
    errors = []
    for name, value in values.items():
        try:
            TrainConfig(**{**defaults, name: value})
        except ConfigError as exc:
            errors.append(exc)
    return errors


def _check_int(name: str, value: Any, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}.", name, "whole_number", value)
    if not (low <= value <= high):
        raise ConfigError(f"{name} ({what}) must be between {low} and {high}, got {value}.", name, "range", value, low, high)


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}.", name, "number", value)
