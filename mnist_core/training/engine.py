"""Training and testing as a generator of events that a UI, the CLI and tests consume.

The loop follows the tutorial: test once before training, then for each epoch train
on shuffled batches (recording the loss every ``log_interval`` batches) and test again.
Each batch is one ``sgd_step``, the tutorial's five lines, on a slice of tensors already on the
device; no per-sample transforms. An epoch a Stop interrupts stays partial until the next run
finishes it, in the same order: stopped and continued, a run trains what it would straight through.

    state = new_training_state(TrainConfig(n_epochs=3))
    for event in train(state, data):        # TestEvent, BatchEvent..., TestEvent, ...
        ...
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass, field, fields
from typing import Callable, Generator, Iterator, Union

import torch
import torch.nn.functional as F

from torch import nn

from .augment import augment_batch
from .config import TrainConfig
from .cuda_graph import CudaGraphStep, uses_cuda_graph
from ..data import MnistData
from .device import configure_cpu_threads, resolve_device, usable_cores
from .history import History
from ..network.tutorial import tutorial_spec
from ..network.spec import NetSpec, SpecNet, build_model
from .recipe import Recipe, build_optimizer, build_scheduler


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model holds the last good weights again."""


@dataclass
class TrainingState:
    """Everything needed to continue training: what a checkpoint stores."""

    config: TrainConfig
    model: SpecNet  # built from ``spec``; its attribute names are the state_dict's keys
    optimizer: torch.optim.Optimizer
    history: History = field(default_factory=History)
    epochs_done: int = 0
    examples_seen: int = 0
    shuffle_generator: torch.Generator = field(default_factory=torch.Generator)
    # The run's own random stream for dropout masks and augmentation: the state of a CPU torch.Generator.
    # Never the process-wide RNG, so jobs training at once cannot change each other's results.
    torch_rng_state: torch.Tensor | None = None
    recipe: Recipe = field(default_factory=Recipe)

    @property
    def spec(self) -> NetSpec:
        return self.model.spec

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def examples_into_epoch(self) -> int:
        """Examples trained in the epoch under way: 0 when the last epoch ran to its end, more after a Stop
        (or a divergence) in the middle of one, which a continued run finishes first. Every epoch ends
        with a test, so this is what was trained since the last test."""
        tested = self.history.test_counter
        return max(0, self.examples_seen - tested[-1]) if len(tested) else 0


def make_optimizer(model: nn.Module, config: TrainConfig, recipe: Recipe | None = None) -> torch.optim.Optimizer:
    """The recipe's optimizer over the model's parameters (the tutorial's SGD for the default recipe)."""
    return build_optimizer(model.parameters(), config, recipe or Recipe())


def apply_config(state: TrainingState, config: TrainConfig) -> None:
    """Continue ``state`` under new hyperparameters (e.g. a lower learning rate after a resume).

    The optimizer keeps its buffers (momentum, Adam's averages); only its learning rate and SGD's momentum change.
    random_seed only matters for a fresh start: a resumed run keeps its saved RNG streams.
    """
    for group in state.optimizer.param_groups:
        group["lr"] = config.learning_rate
        if "momentum" in group:
            group["momentum"] = config.momentum
    state.config = config


# torch.nn initialises weights from the process-wide RNG: seeding it and building must not interleave with
# another session's build, or two learners with the same seed would get different nets.
_SEEDED_BUILD_LOCK = threading.Lock()


def new_training_state(
    config: TrainConfig,
    device: torch.device | str | None = None,
    spec: NetSpec | None = None,
    recipe: Recipe | None = None,
) -> TrainingState:
    """A freshly initialised net (the tutorial's unless ``spec`` says otherwise), seeded as the tutorial does
    with torch.manual_seed. Raises SpecError when the spec does not work or is over a limit at this batch size,
    and ConfigError when the recipe does not fit the config (Nesterov without momentum)."""
    spec = spec or tutorial_spec()
    recipe = recipe or Recipe()
    device = resolve_device(config.device) if device is None else torch.device(device)
    # fork_rng: seeding for this net leaves the process-wide RNG as it was for other code.
    with _SEEDED_BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.random_seed)
        model = build_model(spec, config.batch_size_train)
        # Dropout then continues this stream, exactly as the tutorial's dropout follows its initialisation.
        torch_rng_state = torch.get_rng_state()
    model = model.to(device)
    shuffle_generator = torch.Generator().manual_seed(config.random_seed)
    return TrainingState(
        config=config,
        model=model,
        optimizer=make_optimizer(model, config, recipe),
        shuffle_generator=shuffle_generator,
        torch_rng_state=torch_rng_state,
        recipe=recipe,
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
    examples_seen: int  # before this batch, as the tutorial's train_counter
    loss: float


@dataclass(frozen=True)
class StoppedEvent:
    epoch: int
    batch_index: int
    examples_seen: int


Event = Union[TestEvent, BatchEvent, StoppedEvent]


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> tuple[float, int]:
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
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class probabilities (N x 10) for normalized images, in eval mode."""
    was_training = model.training
    model.eval()
    chunks = [model(images[s : s + batch_size]).exp() for s in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, 10)


# --- One training step: the tutorial's five lines -------------------------------------------------------------


def sgd_step(network: nn.Module, optimizer: torch.optim.Optimizer, data: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """One training step on one batch, the tutorial's five lines; returns the batch's mean loss."""
    optimizer.zero_grad()  # clear the last batch's gradients: backward adds to what is there
    output = network(data)  # log-probabilities, one row of 10 per image
    loss = F.nll_loss(output, target)  # the mean of -log(probability of the right digit)
    loss.backward()  # the gradient of the loss for every weight, into the weight's .grad
    optimizer.step()  # move every weight a little against its gradient
    return loss.detach()  # still on the device: reading the number would wait for it


class EagerStep:
    """sgd_step on the training images at the given indices; returns the loss (not synced).

    augment: applied to the batch's images before the forward pass (None: the images as they are).
    scheduler: stepped after every optimizer step (None: a constant learning rate).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None, scheduler=None):
        self.model, self.optimizer, self.images, self.labels = model, optimizer, images, labels
        self.augment, self.scheduler = augment, scheduler

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        images = self.images.index_select(0, batch)
        if self.augment is not None:
            images = self.augment(images)
        loss = sgd_step(self.model, self.optimizer, images, self.labels.index_select(0, batch))
        if self.scheduler is not None:
            self.scheduler.step()
        return loss


# --- The loop: epochs of steps, a test after each ----------------------------------------------------------------


def train(
    state: TrainingState,
    data: MnistData,
    n_epochs: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    cpu_threads: int | None = None,
    cuda_graph: bool = False,
) -> Iterator[Event]:
    """Train ``state`` in place for n_epochs (default: its config's), yielding events.

    The history in ``state`` grows as events are yielded. ``should_stop`` is polled between
    batches; when it returns True a StoppedEvent ends the run, the weights kept as trained
    so far. A non-finite loss or weight restores the last good weights and counters and
    raises TrainingDiverged.

    An epoch a Stop (or a divergence) interrupted is finished first, in the same shuffled order from the
    example it stopped at, and counts as the first of the n_epochs: stopping and continuing trains exactly
    what one run straight through would. ``examples_to_train`` gives the run's length.

    The recipe's schedule is planned over this run's steps; augmentation and dropout draw from the state's
    own generator (``torch_rng_state``), never the process-wide RNG, so the results depend only on the
    state, the data, n_epochs and the thread count, not on anything else training in the process.

    cpu_threads: PyTorch threads on CPU, set again before every batch (a thread pool is shared by the
    process); None: every usable core. CPU results depend on the thread count (reductions split
    differently), so jobs keep one fixed count (see runtime.limiter.SlotLimiter.threads_per_job).
    cuda_graph: on CUDA, replay each training step from a CUDA graph (see cuda_graph.py). Only for the
    default recipe (SGD, constant rate, no augmentation); other recipes run eagerly.
    """
    n_epochs = state.config.n_epochs if n_epochs is None else n_epochs
    if n_epochs < 1:
        raise ValueError(f"n_epochs must be at least 1, got {n_epochs}.")
    run = _start_run(state, data, n_epochs, should_stop, cpu_threads, cuda_graph)
    if not state.history.test_losses:
        yield _test_event(state, run.data)  # the tutorial's test() before the first epoch
    elif state.examples_seen > 0:
        state.history.resume_points.append(state.examples_seen)
    run.last_good = _snapshot(state, state.shuffle_generator.get_state())
    for epoch in range(state.epochs_done + 1, state.epochs_done + n_epochs + 1):
        finished = yield from _train_epoch(run, epoch)
        if not finished:
            return
        yield _end_epoch(run, epoch)


def examples_to_train(state: TrainingState, n_train: int, n_epochs: int) -> int:
    """Examples that ``train(state, data, n_epochs)`` trains on if nothing stops it (n_train: the data's):
    n_epochs epochs, the first shortened by what a Stop left of it already trained."""
    return n_epochs * n_train - _examples_already_in_epoch(state, n_train)


@dataclass
class _Run:
    """What one call of ``train`` carries from epoch to epoch."""

    state: TrainingState
    data: MnistData  # on the model's device
    step: Callable[[torch.Tensor], torch.Tensor]  # trains on the batch of training images at these indices
    should_stop: Callable[[], bool] | None
    cpu_threads: int | None  # set again before every batch; None off the CPU
    dropout_stream: torch.Generator  # the CPU stream the state keeps as torch_rng_state
    last_good: dict | None = None  # what a divergence returns to (see _snapshot)


def _start_run(state: TrainingState, data: MnistData, n_epochs: int, should_stop, cpu_threads: int | None,
               cuda_graph: bool) -> _Run:
    """Ready ``state`` to train: the data on its device, the thread count, the random streams, the step."""
    device = state.device
    data = data.to(device)
    threads = (cpu_threads or usable_cores()) if device.type == "cpu" else None
    if threads is not None:
        configure_cpu_threads(threads)
    graph = uses_cuda_graph(cuda_graph, device, state.recipe)
    rng, dropout_stream = _run_generators(state, device, graph)
    # Channels-last convolutions run about 1.5x faster on CPU here; in place, so the
    # optimizer keeps pointing at the same parameters.
    state.model.to(memory_format=torch.channels_last)
    model, optimizer, config, recipe = state.model, state.optimizer, state.config, state.recipe
    if graph:
        eager = EagerStep(model, optimizer, data.train_images, data.train_labels)
        step = CudaGraphStep(eager, batch_size=config.batch_size_train)
    else:
        if recipe.schedule != "constant":  # each run plans its schedule from the configured rate,
            for group in optimizer.param_groups:  # whatever rate the last run's schedule ended at
                group["lr"] = config.learning_rate
                group.pop("initial_lr", None)
        scheduler = build_scheduler(optimizer, config, recipe, _steps_to_train(state, data.n_train, n_epochs))
        augment = (lambda images: augment_batch(images, recipe.augment, rng)) if recipe.augment else None
        step = EagerStep(model, optimizer, data.train_images, data.train_labels, augment, scheduler)
    return _Run(state, data, step, should_stop, threads, dropout_stream)


def _train_epoch(run: _Run, epoch: int) -> Generator[Event, None, bool]:
    """One epoch (or the rest of one a Stop interrupted): shuffled batches, a BatchEvent every log_interval.

    Returns True when the epoch ran to its end, False after yielding a StoppedEvent.
    """
    state, config = run.state, run.state.config
    n_train, batch_size = run.data.n_train, config.batch_size_train
    batches_per_epoch = -(-n_train // batch_size)
    epoch_start = state.shuffle_generator.get_state()  # a Stop rewinds to here: Continue draws this order again
    first = _examples_already_in_epoch(state, n_train)
    state.model.train()
    order = torch.randperm(n_train, generator=state.shuffle_generator).to(state.device)
    for start in range(first, n_train, batch_size):
        batch_index = start // batch_size
        if run.should_stop is not None and run.should_stop():
            yield _stop(run, epoch, batch_index, epoch_start)
            return False
        if run.cpu_threads is not None:
            configure_cpu_threads(run.cpu_threads)
        batch = order[start : start + batch_size]
        loss = run.step(batch)
        examples_before = state.examples_seen
        state.examples_seen += len(batch)
        if batch_index % config.log_interval == 0:
            loss_value, weights_finite = _loss_and_weights_finite(loss, state.model)
            _check_finite(run, loss_value, weights_finite, f"The loss became {loss_value} at epoch {epoch}, batch {batch_index}")
            state.history.train_losses.append(loss_value)
            state.history.train_counter.append(examples_before)
            run.last_good = _snapshot(state, epoch_start)
            yield BatchEvent(epoch, batch_index, batches_per_epoch, examples_before, loss_value)
    return True


def _end_epoch(run: _Run, epoch: int) -> TestEvent:
    """Count the epoch done, keep the random stream's place, and test (the tutorial's test() after each epoch)."""
    state = run.state
    state.epochs_done = epoch
    state.torch_rng_state = run.dropout_stream.get_state()
    event = _test_event(state, run.data)
    weights_finite = bool(_all_weights_finite(state.model))
    _check_finite(run, event.loss, weights_finite, f"The test loss became {event.loss} after epoch {epoch}")
    run.last_good = _snapshot(state, state.shuffle_generator.get_state())
    return event


def _stop(run: _Run, epoch: int, batch_index: int, epoch_start: torch.Tensor) -> StoppedEvent:
    """Keep the weights trained so far (the last good ones if they broke after the last logged batch), and
    rewind the shuffle to the epoch's start, so that a continued run finishes this epoch in its own order."""
    state = run.state
    if not bool(_all_weights_finite(state.model)):  # diverged since the last logged batch
        _restore(state, run.last_good)
    state.shuffle_generator.set_state(epoch_start)
    state.torch_rng_state = run.dropout_stream.get_state()
    _mark_partial_epoch(state)
    return StoppedEvent(epoch, batch_index, state.examples_seen)


def _check_finite(run: _Run, loss: float, weights_finite: bool, what_happened: str) -> None:
    """Nothing while the loss and weights are finite; otherwise back to the last good weights and counters,
    and TrainingDiverged. what_happened starts the message: "The loss became nan at epoch 2, batch 30"."""
    if math.isfinite(loss) and weights_finite:
        return
    _restore(run.state, run.last_good)
    _mark_partial_epoch(run.state)
    raise TrainingDiverged(
        f"{what_happened}: training diverged. Try a smaller learning rate than {run.state.config.learning_rate}. "
        "The last good weights were kept."
    )


def _mark_partial_epoch(state: TrainingState) -> None:
    """Record where a run ended inside an epoch, so every view can call that epoch partial."""
    if state.examples_into_epoch:
        state.history.stop_points.append(state.examples_seen)


def _examples_already_in_epoch(state: TrainingState, n_train: int) -> int:
    """Where the next epoch starts: past what a Stop left of it already trained. A partial epoch as long as
    this data's whole epoch (other data since the Stop) counts as complete."""
    return min(state.examples_into_epoch, n_train)


def _steps_to_train(state: TrainingState, n_train: int, n_epochs: int) -> int:
    """Optimizer steps in train(state, data, n_epochs), for planning a schedule (at least 1, which it needs)."""
    batch_size = state.config.batch_size_train
    first_epoch = n_train - _examples_already_in_epoch(state, n_train)
    return max(1, -(-first_epoch // batch_size) + (n_epochs - 1) * -(-n_train // batch_size))


def _test_event(state: TrainingState, data: MnistData) -> TestEvent:
    loss, correct = evaluate(state.model, data.test_images, data.test_labels, state.config.batch_size_test)
    event = TestEvent(state.epochs_done, state.examples_seen, loss, correct, data.n_test)
    state.history.test_losses.append(event.loss)
    state.history.test_counter.append(event.examples_seen)
    state.history.test_accuracy.append(event.accuracy)
    return event


def _run_generators(state: TrainingState, device: torch.device, uses_graph: bool) -> tuple[torch.Generator, torch.Generator]:
    """The run's generator for dropout and augmentation, and the CPU stream whose state a checkpoint saves.

    On CPU both are the saved generator itself, continuing its stream. A CUDA generator cannot take a CPU
    state, so it is seeded from one draw of the saved stream. Under a CUDA graph dropout keeps the default
    CUDA generator, the one that graph capture supports.
    """
    cpu_rng = torch.Generator()
    if state.torch_rng_state is not None:
        cpu_rng.set_state(state.torch_rng_state)
    else:
        cpu_rng.manual_seed(state.config.random_seed)
    rng = cpu_rng
    if device.type != "cpu":
        seed = int(torch.randint(0, 2**62, (1,), generator=cpu_rng))
        rng = torch.Generator(device=device).manual_seed(seed)
    state.model.use_generator(None if uses_graph else rng)
    return rng, cpu_rng


def _all_weights_finite(model: nn.Module) -> torch.Tensor:
    """A 0-dim bool tensor on the model's device (no sync)."""
    return torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()


def _loss_and_weights_finite(loss: torch.Tensor, model: nn.Module) -> tuple[float, bool]:
    """The loss as a float, and whether every weight is finite, in one device sync."""
    loss_value, weights_finite = torch.stack([loss.float(), _all_weights_finite(model).float()]).tolist()
    return loss_value, bool(weights_finite)


def _snapshot(state: TrainingState, epoch_start: torch.Tensor) -> dict:
    """Weights, optimizer and progress to return to if training diverges.

    epoch_start: the shuffle generator's state where the epoch of this moment began (it draws that
    epoch's order). The net has 21,840 parameters, so a copy every logged batch costs microseconds.
    """
    history = state.history
    return {
        "model": copy.deepcopy(state.model.state_dict()),
        "optimizer": copy.deepcopy(state.optimizer.state_dict()),
        "epochs_done": state.epochs_done,
        "examples_seen": state.examples_seen,
        "shuffle": epoch_start,
        "history_lengths": {f.name: len(getattr(history, f.name)) for f in fields(History)},
    }


def _restore(state: TrainingState, snapshot: dict) -> None:
    state.model.load_state_dict(snapshot["model"])
    state.optimizer.load_state_dict(snapshot["optimizer"])
    state.epochs_done = snapshot["epochs_done"]
    state.examples_seen = snapshot["examples_seen"]
    state.shuffle_generator.set_state(snapshot["shuffle"])
    for name, length in snapshot["history_lengths"].items():
        del getattr(state.history, name)[length:]
