"""Training and testing as a generator of events that a UI, the CLI and tests consume.

The loop follows the seed tutorial: test once before training, then for each epoch train
on shuffled batches (recording the loss every ``log_interval`` batches) and test again.
Batches are slices of tensors already on the device; no per-sample transforms.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from typing import Callable, Iterator, Union

import torch
import torch.nn.functional as F

from .config import TrainConfig
from .data import MnistData
from .device import configure_cpu_threads, free_cores, resolve_device
from .history import History
from .model import Net


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model holds the last good weights again."""


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
    __test__ = False  # not a pytest test class despite its name

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


class _EagerStep:
    """One SGD step on the training images at the given indices; returns the loss (not synced)."""

    def __init__(self, model: Net, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor):
        self.model, self.optimizer, self.images, self.labels = model, optimizer, images, labels

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(self.model(self.images.index_select(0, batch)), self.labels.index_select(0, batch))
        loss.backward()
        self.optimizer.step()
        return loss.detach()


class _CudaGraphStep(_EagerStep):
    """The same step replayed from a CUDA graph: one launch instead of dozens per batch.

    The first WARMUP_STEPS batches run eagerly on a side stream (they also create SGD's
    momentum buffers, which capture needs to exist); the next full batch is captured, and
    every later batch of that size only copies its indices in and replays. A batch of
    another size (the last, partial one) runs eagerly: it updates the same parameter and
    momentum tensors in place, which the graph reads at their fixed addresses.
    """

    WARMUP_STEPS = 3

    def __init__(self, *args, batch_size: int):
        super().__init__(*args)
        self.batch_size = batch_size
        self.steps_run = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_batch = torch.zeros(batch_size, dtype=torch.long, device=self.images.device)
        self.static_loss: torch.Tensor | None = None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if len(batch) != self.batch_size:
            return super().__call__(batch)
        if self.graph is None and self.steps_run < self.WARMUP_STEPS:
            self.steps_run += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                loss = super().__call__(batch)
            torch.cuda.current_stream().wait_stream(side)
            return loss
        self.static_batch.copy_(batch)
        if self.graph is None:
            self.graph = torch.cuda.CUDAGraph()
            self.optimizer.zero_grad(set_to_none=True)  # backward then allocates .grad in the graph's pool
            with torch.cuda.graph(self.graph):
                output = self.model(self.images.index_select(0, self.static_batch))
                self.static_loss = F.nll_loss(output, self.labels.index_select(0, self.static_batch))
                self.static_loss.backward()
                self.optimizer.step()
        self.graph.replay()
        return self.static_loss.detach().clone()


def _test_event(state: TrainingState, data: MnistData) -> TestEvent:
    loss, correct = evaluate(state.model, data.test_images, data.test_labels, state.config.batch_size_test)
    event = TestEvent(state.epochs_done, state.examples_seen, loss, correct, data.n_test)
    state.history.test_losses.append(event.loss)
    state.history.test_counter.append(event.examples_seen)
    state.history.test_accuracy.append(event.accuracy)
    return event


def train(
    state: TrainingState,
    data: MnistData,
    n_epochs: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    cpu_threads: int | Callable[[], int] | None = None,
    cuda_graph: bool = False,
) -> Iterator[Event]:
    """Train ``state`` in place for n_epochs (default: its config's), yielding events.

    The history in ``state`` grows as events are yielded. ``should_stop`` is polled between
    batches; when it returns True a StoppedEvent ends the run, the weights kept as trained
    so far. A non-finite loss or weight restores the last good weights and counters and
    raises TrainingDiverged.

    cpu_threads: PyTorch threads on CPU; None sizes it to the free cores when the run starts. A
    callable is asked again before every batch, so jobs sharing the CPU can shrink and grow their
    share (see jobs.TrainingJob). A run reproduces exactly on CPU for the same thread count, so a
    job's exact numbers can depend on whether another job trained beside it.
    cuda_graph: on CUDA, replay each training step from a CUDA graph (see _CudaGraphStep).
    """
    config = state.config
    n_epochs = config.n_epochs if n_epochs is None else n_epochs
    if n_epochs < 1:
        raise ValueError(f"n_epochs must be at least 1, got {n_epochs}.")
    device = state.device
    data = data.to(device)
    threads_now = cpu_threads if callable(cpu_threads) and device.type == "cpu" else None  # asked every batch
    if device.type == "cpu":
        configure_cpu_threads(threads_now() if threads_now else cpu_threads or free_cores())
    if state.torch_rng_state is not None:
        torch.set_rng_state(state.torch_rng_state)

    model, optimizer = state.model, state.optimizer
    # Channels-last convolutions run about 1.5x faster on CPU here; in place, so the
    # optimizer keeps pointing at the same parameters.
    model.to(memory_format=torch.channels_last)
    if not state.history.test_losses:
        yield _test_event(state, data)  # the seed's test() before the first epoch
    elif state.examples_seen > 0:
        state.history.resume_points.append(state.examples_seen)

    n_train = data.n_train
    batch_size = config.batch_size_train
    batches_per_epoch = -(-n_train // batch_size)
    if cuda_graph and device.type == "cuda":
        step = _CudaGraphStep(model, optimizer, data.train_images, data.train_labels, batch_size=batch_size)
    else:
        step = _EagerStep(model, optimizer, data.train_images, data.train_labels)
    last_good = _snapshot(state)
    for epoch in range(state.epochs_done + 1, state.epochs_done + n_epochs + 1):
        model.train()
        order = torch.randperm(n_train, generator=state.shuffle_generator).to(device)
        for batch_index in range(batches_per_epoch):
            if should_stop is not None and should_stop():
                if not bool(_all_weights_finite(model)):  # diverged since the last logged batch
                    _restore(state, last_good)
                state.torch_rng_state = torch.get_rng_state()
                yield StoppedEvent(epoch, batch_index, state.examples_seen)
                return
            if threads_now is not None:
                configure_cpu_threads(threads_now())
            batch = order[batch_index * batch_size : (batch_index + 1) * batch_size]
            loss = step(batch)
            examples_before = state.examples_seen
            state.examples_seen += len(batch)
            if batch_index % config.log_interval == 0:
                loss_value, weights_finite = _loss_and_weights_finite(loss, model)
                if not (math.isfinite(loss_value) and weights_finite):
                    _restore(state, last_good)
                    raise TrainingDiverged(
                        f"The loss became {loss_value} at epoch {epoch}, batch {batch_index}: training "
                        f"diverged. Try a smaller learning rate than {config.learning_rate}. "
                        "The last good weights were kept."
                    )
                state.history.train_losses.append(loss_value)
                state.history.train_counter.append(examples_before)
                last_good = _snapshot(state)
                yield BatchEvent(epoch, batch_index, batches_per_epoch, examples_before, loss_value)
        state.epochs_done = epoch
        state.torch_rng_state = torch.get_rng_state()
        event = _test_event(state, data)
        if not (math.isfinite(event.loss) and bool(_all_weights_finite(model))):
            _restore(state, last_good)
            raise TrainingDiverged(
                f"The test loss became {event.loss} after epoch {epoch}: training diverged. "
                f"Try a smaller learning rate than {config.learning_rate}. The last good weights were kept."
            )
        last_good = _snapshot(state)
        yield event


def _all_weights_finite(model: Net) -> torch.Tensor:
    """A 0-dim bool tensor on the model's device (no sync)."""
    return torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()


def _loss_and_weights_finite(loss: torch.Tensor, model: Net) -> tuple[float, bool]:
    """The loss as a float, and whether every weight is finite, in one device sync."""
    loss_value, weights_finite = torch.stack([loss.float(), _all_weights_finite(model).float()]).tolist()
    return loss_value, bool(weights_finite)


def _snapshot(state: TrainingState) -> dict:
    """Weights, optimizer and progress to return to if training diverges.

    The net has 21,840 parameters, so a copy every logged batch costs microseconds.
    """
    history = state.history
    return {
        "model": copy.deepcopy(state.model.state_dict()),
        "optimizer": copy.deepcopy(state.optimizer.state_dict()),
        "epochs_done": state.epochs_done,
        "examples_seen": state.examples_seen,
        "history_lengths": {f.name: len(getattr(history, f.name)) for f in fields(History)},
    }


def _restore(state: TrainingState, snapshot: dict) -> None:
    state.model.load_state_dict(snapshot["model"])
    state.optimizer.load_state_dict(snapshot["optimizer"])
    state.epochs_done = snapshot["epochs_done"]
    state.examples_seen = snapshot["examples_seen"]
    for name, length in snapshot["history_lengths"].items():
        del getattr(state.history, name)[length:]
