"""Training and testing as a generator of events that a UI, the CLI and tests consume.

The loop follows the seed tutorial: test once before training, then for each epoch train
on shuffled batches (recording the loss every ``log_interval`` batches) and test again.
Batches are slices of tensors already on the device; no per-sample transforms.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Union

import torch
import torch.nn.functional as F

from .config import TrainConfig
from .data import MnistData
from .device import configure_cpu_threads, resolve_device, usable_cores
from .model import Net


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model holds the last good weights again."""


@dataclass
class History:
    """The seed's four lists, plus accuracy and where continued runs began."""

    train_losses: list[float] = field(default_factory=list)
    train_counter: list[int] = field(default_factory=list)  # examples seen when each train loss was taken
    test_losses: list[float] = field(default_factory=list)
    test_counter: list[int] = field(default_factory=list)  # examples seen when each test ran
    test_accuracy: list[float] = field(default_factory=list)  # fraction correct, 0-1
    resume_points: list[int] = field(default_factory=list)  # examples seen where a continued run began

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        return cls(**{name: list(values.get(name, [])) for name in cls.__dataclass_fields__})

    def copy(self) -> "History":
        return History.from_dict(self.to_dict())


@dataclass
class TrainingState:
    """Everything needed to continue training: what a checkpoint stores."""

    config: TrainConfig
    model: Net
    optimizer: torch.optim.SGD
    history: History = field(default_factory=History)
    epochs_done: int = 0
    examples_seen: int = 0
    shuffle_generator: torch.Generator = field(default_factory=torch.Generator)
    torch_rng_state: torch.Tensor | None = None  # CPU RNG (dropout) to restore before the next batch

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def make_optimizer(model: Net, config: TrainConfig) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=config.momentum)


def apply_config(state: TrainingState, config: TrainConfig) -> None:
    """Continue ``state`` under new hyperparameters (e.g. a lower learning rate after a resume).

    The optimizer keeps its momentum buffers; only its learning rate and momentum change.
    random_seed only matters for a fresh start: a resumed run keeps its saved RNG streams.
    """
    for group in state.optimizer.param_groups:
        group["lr"] = config.learning_rate
        group["momentum"] = config.momentum
    state.config = config


def new_training_state(config: TrainConfig, device: torch.device | str | None = None) -> TrainingState:
    """A freshly initialised net, seeded as the tutorial does with torch.manual_seed."""
    device = resolve_device(config.device) if device is None else torch.device(device)
    # fork_rng: seeding for this net leaves the process-wide RNG as it was for other sessions.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.random_seed)
        model = Net()
        torch_rng_state = torch.get_rng_state()
    model = model.to(device)
    shuffle_generator = torch.Generator().manual_seed(config.random_seed)
    return TrainingState(
        config=config,
        model=model,
        optimizer=make_optimizer(model, config),
        shuffle_generator=shuffle_generator,
        torch_rng_state=torch_rng_state,
    )


@dataclass(frozen=True)
class TestEvent:
    epoch: int  # epochs completed when this test ran (0: before training)
    examples_seen: int
    loss: float  # mean NLL over the test split
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class BatchEvent:
    epoch: int  # 1-based epoch this batch belongs to
    batch_index: int  # 0-based, within the epoch
    batches_per_epoch: int
    examples_seen: int  # before this batch, as the seed's train_counter
    loss: float
    elapsed_seconds: float  # since this call to train() started


@dataclass(frozen=True)
class StoppedEvent:
    epoch: int
    batch_index: int
    examples_seen: int


Event = Union[TestEvent, BatchEvent, StoppedEvent]


@torch.no_grad()
def evaluate(model: Net, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> tuple[float, int]:
    """Mean NLL loss and number correct over a split, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=images.device)
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    for start in range(0, len(labels), batch_size):
        output = model(images[start : start + batch_size])
        target = labels[start : start + batch_size]
        loss_sum += F.nll_loss(output, target, reduction="sum")
        correct += (output.argmax(dim=1) == target).sum()
    model.train(was_training)
    return loss_sum.item() / max(1, len(labels)), int(correct.item())


@torch.no_grad()
def predict(model: Net, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class probabilities (N x 10) for normalized images, in eval mode."""
    was_training = model.training
    model.eval()
    chunks = [model(images[s : s + batch_size]).exp() for s in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, 10)


def _train_step(model: Net, optimizer: torch.optim.Optimizer, data: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    optimizer.zero_grad(set_to_none=True)
    loss = F.nll_loss(model(data), target)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _test_event(state: TrainingState, data: MnistData) -> TestEvent:
    loss, correct = evaluate(state.model, data.test_images, data.test_labels, state.config.batch_size_test)
    total = data.n_test
    history = state.history
    history.test_losses.append(loss)
    history.test_counter.append(state.examples_seen)
    history.test_accuracy.append(correct / total if total else 0.0)
    return TestEvent(state.epochs_done, state.examples_seen, loss, correct, total)


def train(
    state: TrainingState,
    data: MnistData,
    n_epochs: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Event]:
    """Train ``state`` in place for n_epochs (default: its config's), yielding events.

    The history in ``state`` grows as events are yielded. ``should_stop`` is polled between
    batches; when it returns True a StoppedEvent ends the run, the weights kept as trained
    so far. A non-finite loss restores the last good weights and raises TrainingDiverged.
    """
    config = state.config
    n_epochs = config.n_epochs if n_epochs is None else n_epochs
    if n_epochs < 1:
        raise ValueError(f"n_epochs must be at least 1, got {n_epochs}.")
    device = state.device
    if data.device != device:
        data = data.to(device)
    if device.type == "cpu":
        configure_cpu_threads(usable_cores())
    if state.torch_rng_state is not None:
        torch.set_rng_state(state.torch_rng_state)

    model, optimizer = state.model, state.optimizer
    if not state.history.test_losses:
        yield _test_event(state, data)  # the seed's test() before the first epoch
    elif state.examples_seen > 0:
        state.history.resume_points.append(state.examples_seen)

    n_train = data.n_train
    batch_size = config.batch_size_train
    batches_per_epoch = -(-n_train // batch_size)
    started = time.perf_counter()
    last_good = _snapshot(state)
    for epoch in range(state.epochs_done + 1, state.epochs_done + n_epochs + 1):
        model.train()
        order = torch.randperm(n_train, generator=state.shuffle_generator).to(device)
        for batch_index in range(batches_per_epoch):
            if should_stop is not None and should_stop():
                state.torch_rng_state = torch.get_rng_state()
                yield StoppedEvent(epoch, batch_index, state.examples_seen)
                return
            batch = order[batch_index * batch_size : (batch_index + 1) * batch_size]
            loss = _train_step(model, optimizer, data.train_images[batch], data.train_labels[batch])
            examples_before = state.examples_seen
            state.examples_seen += len(batch)
            if batch_index % config.log_interval == 0:
                loss_value = loss.item()  # a device sync, so only once per log interval
                if not math.isfinite(loss_value):
                    _restore(state, last_good)
                    raise TrainingDiverged(
                        f"The loss became {loss_value} at epoch {epoch}, batch {batch_index}: training "
                        f"diverged. Try a smaller learning rate than {config.learning_rate}. "
                        "The last good weights were kept."
                    )
                last_good = _snapshot(state)
                state.history.train_losses.append(loss_value)
                state.history.train_counter.append(examples_before)
                yield BatchEvent(
                    epoch, batch_index, batches_per_epoch, examples_before, loss_value,
                    time.perf_counter() - started,
                )
        state.epochs_done = epoch
        state.torch_rng_state = torch.get_rng_state()
        event = _test_event(state, data)
        if not math.isfinite(event.loss):
            _restore(state, last_good)
            raise TrainingDiverged(
                f"The test loss became {event.loss} after epoch {epoch}: training diverged. "
                f"Try a smaller learning rate than {config.learning_rate}. The last good weights were kept."
            )
        last_good = _snapshot(state)
        yield event


def _snapshot(state: TrainingState) -> dict:
    # The net has 21,840 parameters, so a copy every logged batch costs microseconds.
    return {
        "model": copy.deepcopy(state.model.state_dict()),
        "optimizer": copy.deepcopy(state.optimizer.state_dict()),
    }


def _restore(state: TrainingState, snapshot: dict) -> None:
    state.model.load_state_dict(snapshot["model"])
    state.optimizer.load_state_dict(snapshot["optimizer"])
