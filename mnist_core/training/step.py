"""One training step, up close: the tutorial's five lines taken apart, each stage a function that returns data.

    optimizer.zero_grad()                 -> backward_pass(..., zero_grad=True)
    output = network(data)                -> forward_shapes, class_scores
    loss = F.nll_loss(output, target)     -> loss_by_hand
    loss.backward()                       -> backward_pass
    optimizer.step()                      -> optimizer_step (PyTorch's SGD-with-momentum or Adam, by hand)

A ``StepLab`` is the learner's own copy of a network with its optimizer and one batch; the session's model is
never touched. Every random draw (the batch, dropout masks) comes from a generator seeded with the lab's seed,
so pressing a button twice gives the same numbers, and backward twice without zero_grad gives exactly twice the
gradient. The tensor lab at the end runs view, reshape, squeeze, unsqueeze, Flatten and bmm on zero tensors, so
the answer (or the refusal) is PyTorch's own.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig
from ..data import MnistData
from .engine import TrainingState, new_training_state
from ..network.spec import NetSpec, SeededDropout, SpecNet
from .recipe import Recipe, build_optimizer

MIN_BATCH, MAX_BATCH = 1, 64  # the page's batch sizes: one image up to the tutorial's training batch
MAX_REPEAT_STEPS = 200  # "N more steps": enough to see momentum's effect, a few seconds on 2 cores
COMPARED_MOMENTA = (0.0, 0.5, 0.9)  # no momentum, the tutorial's 0.5, and the common 0.9
MODE_PASSES = 20  # how many times one image goes through the net in train() and in eval() mode
SHOWN_WEIGHTS = 3  # weights whose update is worked with numbers
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, which build_optimizer keeps
ADAM_EPS = 1e-8
# The repeat runs on one PyTorch thread: at batch 64 these nets are too small to share out, and on a server whose
# cores are busy (other learners' training) two spinning threads made 20 steps take 2.9 s instead of 0.3 s.
REPEAT_THREADS = 1


class StepError(ValueError):
    """A stage asked for out of order or with bad numbers; rule and values let a UI word it."""

    def __init__(self, message: str, rule: str, **values) -> None:
        super().__init__(message)
        self.rule, self.values = rule, values


# --- The lab: a copy of a network, its optimizer and one batch --------------------------------------------


@dataclass
class StepLab:
    """What the stages work on. ``model`` and ``optimizer`` are the lab's own (deep copies or fresh)."""

    model: SpecNet
    optimizer: torch.optim.Optimizer
    config: TrainConfig
    recipe: Recipe
    images: torch.Tensor  # the batch, normalized, B x 1 x 28 x 28
    labels: torch.Tensor  # B
    indices: torch.Tensor  # the batch's positions in the training split
    seed: int  # draws the batch and every dropout mask
    backward_passes: int = 0  # backward calls since the gradients were last zeroed
    steps_taken: int = 0

    @property
    def batch_size(self) -> int:
        return len(self.labels)

    def dropout_generator(self) -> torch.Generator:
        """A fresh generator from the lab's seed: every forward pass of a stage draws the same masks."""
        return torch.Generator().manual_seed(self.seed)


def copy_training_state(state: TrainingState) -> tuple[SpecNet, torch.optim.Optimizer]:
    """The model and its optimizer copied together on the CPU, the optimizer pointing at the copied weights
    (one deepcopy keeps the links), with momentum or Adam's averages as training left them."""
    model, optimizer = copy.deepcopy((state.model, state.optimizer))
    model = model.to("cpu").to(memory_format=torch.contiguous_format)  # in place: the optimizer keeps its links
    for values in optimizer.state.values():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                values[key] = value.to("cpu")
    model.use_generator(None)  # training's own dropout stream stays training's
    return model, optimizer


def fresh_model(spec: NetSpec, config: TrainConfig, recipe: Recipe, seed: int) -> TrainingState:
    """A newly initialised net on the CPU, its weights from torch.manual_seed(seed) as the tutorial does."""
    return new_training_state(replace(config, random_seed=seed, device="cpu"), device="cpu", spec=spec, recipe=recipe)


def draw_batch(data: MnistData, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """batch_size training images chosen with a generator seeded by seed: (images, labels, indices)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not MIN_BATCH <= batch_size <= MAX_BATCH:
        raise StepError(f"The batch size must be a whole number from {MIN_BATCH} to {MAX_BATCH}, got {batch_size!r}.",
                        "batch_size", value=batch_size, low=MIN_BATCH, high=MAX_BATCH)
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(data.n_train, generator=generator)[:batch_size]
    return data.train_images[indices].cpu(), data.train_labels[indices].cpu(), indices


def new_lab(model: SpecNet, optimizer: torch.optim.Optimizer, config: TrainConfig, recipe: Recipe,
            data: MnistData, batch_size: int, seed: int) -> StepLab:
    images, labels, indices = draw_batch(data, batch_size, seed)
    optimizer.zero_grad(set_to_none=True)
    return StepLab(model, optimizer, config, recipe, images, labels, indices, seed)


def _train_forward(lab: StepLab, model: SpecNet | None = None) -> torch.Tensor:
    """output = network(data) in train() mode, dropout drawn from the lab's seed."""
    model = lab.model if model is None else model
    model.train()
    model.use_generator(lab.dropout_generator())
    try:
        return model(lab.images)
    finally:
        model.use_generator(None)


@torch.no_grad()
def eval_loss(model: SpecNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The batch's mean NLL in eval() mode: no dropout, so before and after a step compare the weights only."""
    was_training = model.training
    model.eval()
    loss = F.nll_loss(model(images), labels).item()
    model.train(was_training)
    return loss


# --- 1. Forward: every layer's output shape, with the batch dimension --------------------------------------


@dataclass(frozen=True)
class LayerShape:
    name: str  # conv1, pool1, ... or "input" and "log_softmax"
    kind: str  # the torch.nn type, "input" or "log_softmax"
    shape: tuple[int, ...]  # with the batch dimension first


@torch.no_grad()
def forward_shapes(model: SpecNet, images: torch.Tensor) -> list[LayerShape]:
    """The input and each layer's real output size on this batch, in order, then log_softmax's (eval mode:
    shapes do not depend on dropout, and BatchNorm's running averages stay as they are)."""
    was_training = model.training
    model.eval()
    rows = [LayerShape("input", "input", tuple(images.shape))]
    x = images
    for name, module in model.named_children():
        x = module(x)
        rows.append(LayerShape(name, type(module).__name__.removeprefix("Seeded"), tuple(x.shape)))
    rows.append(LayerShape("log_softmax", "log_softmax", tuple(F.log_softmax(x, dim=1).shape)))
    model.train(was_training)
    return rows


# --- 2. Scores to probabilities for one image --------------------------------------------------------------


@dataclass(frozen=True)
class ClassScores:
    image_shape: tuple[int, ...]  # one image: 1 x 28 x 28
    batched_shape: tuple[int, ...]  # after unsqueeze(0): 1 x 1 x 28 x 28
    output_shape: tuple[int, ...]  # the net's answer for a batch of one: 1 x 10
    squeezed_shape: tuple[int, ...]  # after squeeze(0): 10
    scores: list[float]  # the last layer's 10 raw numbers (logits)
    probabilities: list[float]  # softmax(scores)
    log_probabilities: list[float]  # log_softmax(scores), what the tutorial's net returns
    probability_sum: float  # 1 up to rounding
    exp_log_max_difference: float  # max |exp(log_softmax) - softmax|: exp undoes the log


@torch.no_grad()
def class_scores(model: SpecNet, image: torch.Tensor) -> ClassScores:
    """One image (1 x 28 x 28) through the net in eval mode: raw scores, softmax, log_softmax."""
    was_training = model.training
    model.eval()
    batched = image.unsqueeze(0)  # a net takes batches: one image becomes a batch of one
    scores = nn.Sequential.forward(model, batched)  # the layers without SpecNet's final log_softmax
    model.train(was_training)
    flat = scores.squeeze(0)
    probabilities = F.softmax(flat, dim=0)
    log_probabilities = F.log_softmax(flat, dim=0)
    return ClassScores(
        tuple(image.shape), tuple(batched.shape), tuple(scores.shape), tuple(flat.shape), flat.tolist(),
        probabilities.tolist(), log_probabilities.tolist(), float(probabilities.sum()),
        float((log_probabilities.exp() - probabilities).abs().max()),
    )


# --- 3. Loss: NLL by hand against F.nll_loss ------------------------------------------------------------


@dataclass(frozen=True)
class LossWorked:
    labels: list[int]
    true_log_probabilities: list[float]  # log p[true digit] for each image
    per_image: list[float]  # -log p[true digit]
    hand_mean: float  # their mean, summed here in Python
    torch_loss: float  # F.nll_loss(output, target) on the same output

    @property
    def difference(self) -> float:
        return abs(self.hand_mean - self.torch_loss)


def loss_by_hand(lab: StepLab) -> LossWorked:
    """The batch's NLL worked image by image from the train-mode output, beside F.nll_loss on that output."""
    with torch.no_grad():
        output = _train_forward(lab)
    labels = lab.labels.tolist()
    picked = [float(output[row, label]) for row, label in enumerate(labels)]
    per_image = [-value for value in picked]
    hand_mean = math.fsum(per_image) / len(per_image)
    return LossWorked(labels, picked, per_image, hand_mean, float(F.nll_loss(output, lab.labels)))


# --- 4. Backward: gradients per parameter tensor ----------------------------------------------------------


@dataclass(frozen=True)
class Gradients:
    loss: float
    passes: int  # backward calls piled into .grad since the last zero_grad
    norms: list[tuple[str, float]]  # (parameter name, L2 norm of its .grad), in the model's order
    first_conv_name: str | None
    first_conv_weights: torch.Tensor | None  # out_channels x k x k, the first input channel
    first_conv_gradients: torch.Tensor | None


def backward_pass(lab: StepLab, zero_grad: bool = True) -> Gradients:
    """optimizer.zero_grad() (unless skipped), output = model(data), loss, loss.backward().

    The forward pass draws the same dropout masks every time, so skipping zero_grad and pressing again adds
    the very same gradient to .grad: after two passes each gradient is exactly twice one pass's.
    """
    if zero_grad:
        lab.optimizer.zero_grad(set_to_none=True)
        lab.backward_passes = 0
    output = _train_forward(lab)
    loss = F.nll_loss(output, lab.labels)
    loss.backward()
    lab.backward_passes += 1
    return gradients_now(lab, float(loss.detach()))


def gradients_now(lab: StepLab, loss: float) -> Gradients:
    norms = [(name, float(p.grad.norm()) if p.grad is not None else 0.0) for name, p in lab.model.named_parameters()]
    conv = _first_conv(lab.model)
    name, weights, grads = None, None, None
    if conv is not None:
        name = conv[0]
        weights = conv[1].weight.detach()[:, 0].clone()
        grads = conv[1].weight.grad[:, 0].clone() if conv[1].weight.grad is not None else torch.zeros_like(weights)
    return Gradients(loss, lab.backward_passes, norms, name, weights, grads)


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d] | None:
    return next(((name, module) for name, module in model.named_children() if isinstance(module, nn.Conv2d)), None)


# --- 5. Step: the optimizer's formula worked on a few weights ---------------------------------------------


@dataclass(frozen=True)
class WeightUpdate:
    """One weight through one optimizer step. For SGD ``velocity`` is the momentum buffer v after the step;
    for Adam it is m (first moment) and ``second_moment`` v (second moment)."""

    index: tuple[int, ...]  # position in its parameter tensor
    before: float
    gradient: float  # .grad as the optimizer sees it (weight decay added for SGD and Adam)
    velocity_before: float
    velocity: float
    second_moment_before: float | None
    second_moment: float | None
    by_formula: float  # the new value computed here, by hand
    by_torch: float  # what optimizer.step() wrote


@dataclass(frozen=True)
class StepResult:
    optimizer: str  # "sgd", "adam" or "adamw"
    parameter: str  # the tensor the shown weights belong to
    learning_rate: float
    momentum: float  # SGD's mu; Adam's beta1
    beta2: float | None
    weight_decay: float
    nesterov: bool
    step_number: int  # Adam's t after this step
    weights: list[WeightUpdate]
    loss_before: float  # the batch in eval mode, before and after the step
    loss_after: float

    @property
    def max_formula_difference(self) -> float:
        return max((abs(w.by_formula - w.by_torch) for w in self.weights), default=0.0)


def chosen_weights(gradient: torch.Tensor, count: int = SHOWN_WEIGHTS) -> list[tuple[int, ...]]:
    """The positions of the count largest gradients (by size) in a tensor: weights the step moves visibly."""
    flat = gradient.detach().abs().flatten()
    top = torch.topk(flat, min(count, flat.numel())).indices.tolist()
    return [tuple(int(i) for i in torch.unravel_index(torch.tensor(k), gradient.shape)) for k in top]


def optimizer_step(lab: StepLab, parameter: str | None = None, learning_rate: float | None = None,
                   momentum: float | None = None) -> StepResult:
    """optimizer.step() on the lab, with the update of SHOWN_WEIGHTS weights of ``parameter`` (default the first
    tensor) worked by PyTorch's own formula beforehand, so the page shows both and they agree.

    SGD (PyTorch's form, lr outside v): g <- g + wd*p; v <- mu*v + g (v = g on the first step); p <- p - lr*v
    (Nesterov: p <- p - lr*(g + mu*v)). Adam: m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g^2;
    p <- p - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps); AdamW first shrinks p by (1 - lr*wd) instead of
    adding wd*p to g.
    """
    params = dict(lab.model.named_parameters())
    name = parameter or next(iter(params))
    if name not in params:
        raise StepError(f"The network has no parameter {name!r}.", "unknown_parameter", name=name)
    weight = params[name]
    if weight.grad is None:
        raise StepError("Run backward first: the step needs gradients.", "needs_backward")
    group = lab.optimizer.param_groups[0]
    if learning_rate is not None:
        _check_positive("learning_rate", learning_rate)
        for each in lab.optimizer.param_groups:
            each["lr"] = learning_rate
    if momentum is not None and "momentum" in group:
        if not 0 <= momentum < 1:
            raise StepError(f"momentum must be at least 0 and below 1, got {momentum}.", "momentum", value=momentum)
        for each in lab.optimizer.param_groups:
            each["momentum"] = momentum
    kind = lab.recipe.optimizer
    loss_before = eval_loss(lab.model, lab.images, lab.labels)
    state = lab.optimizer.state.get(weight, {})
    positions = chosen_weights(weight.grad)
    predicted = [_predict_update(kind, group, state, weight, index) for index in positions]
    lab.optimizer.step()
    lab.steps_taken += 1
    loss_after = eval_loss(lab.model, lab.images, lab.labels)
    updates = [replace(update, by_torch=float(weight.detach()[update.index])) for update in predicted]
    beta1, beta2 = group.get("betas", (None, None))
    step_number = int(lab.optimizer.state[weight]["step"]) if "step" in lab.optimizer.state[weight] else lab.steps_taken
    return StepResult(kind, name, group["lr"], group.get("momentum", beta1), beta2, group.get("weight_decay", 0.0),
                      bool(group.get("nesterov", False)), step_number, updates, loss_before, loss_after)


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise StepError(f"{name} must be a number above 0, got {value!r}.", name, value=value)


def _predict_update(kind: str, group: dict, state: dict, weight: torch.Tensor, index: tuple[int, ...]) -> WeightUpdate:
    """One weight's next value by the optimizer's formula, in float32 as torch computes it."""
    p = weight.detach()[index].clone()
    g = weight.grad[index].clone()
    lr, decay = group["lr"], group.get("weight_decay", 0.0)
    if kind == "sgd":
        mu = group["momentum"]
        if decay:
            g = g + decay * p
        buffer = state.get("momentum_buffer")
        v_before = buffer[index].clone() if buffer is not None else torch.zeros_like(g)
        if mu == 0:
            v = g
        else:
            v = g.clone() if buffer is None else v_before * mu + g  # PyTorch's first step: v = g
        direction = g + mu * v if group.get("nesterov") else v
        new = p - lr * direction
        return WeightUpdate(index, float(p), float(g), float(v_before), float(v), None, None, float(new), float("nan"))
    beta1, beta2 = group["betas"]
    eps = group["eps"]
    t = int(state["step"]) + 1 if "step" in state else 1
    m_before = state["exp_avg"][index].clone() if "exp_avg" in state else torch.zeros_like(g)
    v_before = state["exp_avg_sq"][index].clone() if "exp_avg_sq" in state else torch.zeros_like(g)
    if kind == "adamw":
        p_decayed = p * (1 - lr * decay)
    else:
        p_decayed = p
        if decay:
            g = g + decay * p
    m = m_before + (g - m_before) * (1 - beta1)  # torch's lerp form of b1*m + (1-b1)*g
    v = v_before * beta2 + (1 - beta2) * g * g
    m_hat_scale = lr / (1 - beta1 ** t)
    denominator = (v.sqrt() / math.sqrt(1 - beta2 ** t)) + eps
    new = p_decayed - m_hat_scale * m / denominator
    return WeightUpdate(index, float(p), float(g), float(m_before), float(m), float(v_before), float(v), float(new),
                        float("nan"))


# --- 6. Repeat: N more steps, momentum against momentum from the same start -------------------------------


@dataclass(frozen=True)
class LossCurve:
    label: str  # "momentum 0.5", or the recipe's optimizer name
    optimizer: str
    momentum: float | None
    losses: list[float]  # train-mode loss of each step's batch, before that step


def repeat_steps(lab: StepLab, data: MnistData, n_steps: int, momenta: tuple[float, ...] = COMPARED_MOMENTA,
                 learning_rate: float | None = None) -> list[LossCurve]:
    """n_steps more SGD steps from the lab's current weights, once per momentum, on copies (the lab stays as it
    is). Every curve sees the same batches (drawn from the lab's seed) and the same dropout masks, so the
    curves differ only by momentum. A recipe with Adam or AdamW adds its own curve."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or not 1 <= n_steps <= MAX_REPEAT_STEPS:
        raise StepError(f"Steps must be a whole number from 1 to {MAX_REPEAT_STEPS}, got {n_steps!r}.",
                        "n_steps", value=n_steps, low=1, high=MAX_REPEAT_STEPS)
    rate = lab.optimizer.param_groups[0]["lr"] if learning_rate is None else learning_rate
    _check_positive("learning_rate", rate)
    order = torch.randint(0, data.n_train, (n_steps, lab.batch_size), generator=torch.Generator().manual_seed(lab.seed))
    images, labels = data.train_images.cpu(), data.train_labels.cpu()
    plans: list[tuple[str, str, float | None, Callable]] = [
        (f"momentum {mu:g}", "sgd", mu, lambda params, mu=mu: torch.optim.SGD(params, lr=rate, momentum=mu))
        for mu in momenta
    ]
    if lab.recipe.optimizer != "sgd":
        config = replace(lab.config, learning_rate=rate)
        plans.append((lab.recipe.optimizer, lab.recipe.optimizer, None,
                      lambda params: build_optimizer(params, config, lab.recipe)))
    curves = []
    threads_before = torch.get_num_threads()  # per calling thread: the server's other threads keep theirs
    torch.set_num_threads(REPEAT_THREADS)
    try:
        for label, kind, mu, make_optimizer in plans:
            curves.append(_loss_curve(lab, label, kind, mu, make_optimizer, images, labels, order))
    finally:
        torch.set_num_threads(threads_before)
    return curves


def _loss_curve(lab: StepLab, label: str, kind: str, mu: float | None, make_optimizer: Callable,
                images: torch.Tensor, labels: torch.Tensor, order: torch.Tensor) -> LossCurve:
    """One curve: a copy of the lab's model trained on the given batches, its loss at each step."""
    model = copy.deepcopy(lab.model)
    optimizer = make_optimizer(model.parameters())
    model.train()
    model.use_generator(torch.Generator().manual_seed(lab.seed))  # every curve draws the same masks
    losses = []
    for batch in order:
        optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(model(images[batch]), labels[batch])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return LossCurve(label, kind, mu, losses)


# --- Train against eval mode, and what no_grad saves -----------------------------------------------------


@dataclass(frozen=True)
class ModePasses:
    train_probabilities: torch.Tensor  # MODE_PASSES x 10, train() mode
    eval_probabilities: torch.Tensor  # MODE_PASSES x 10, eval() mode
    has_dropout: bool

    @property
    def train_spread(self) -> float:
        """The largest change of any class's probability across the train-mode passes."""
        values = self.train_probabilities
        return float((values.max(dim=0).values - values.min(dim=0).values).max())

    @property
    def eval_identical(self) -> bool:
        return bool((self.eval_probabilities == self.eval_probabilities[0]).all())


@torch.no_grad()
def mode_passes(model: SpecNet, image: torch.Tensor, seed: int, passes: int = MODE_PASSES) -> ModePasses:
    """One image passed ``passes`` times in train() mode (dropout on, new masks each pass) and in eval() mode.
    Runs on a copy: BatchNorm in train mode would otherwise update the model's running averages."""
    copied = copy.deepcopy(model)
    copied.use_generator(torch.Generator().manual_seed(seed))
    batched = image.unsqueeze(0)
    copied.train()
    train_probabilities = torch.cat([copied(batched).exp() for _ in range(passes)])
    copied.eval()
    eval_probabilities = torch.cat([copied(batched).exp() for _ in range(passes)])
    has_dropout = any(isinstance(module, SeededDropout) and module.p > 0 for module in copied.modules())
    return ModePasses(train_probabilities, eval_probabilities, has_dropout)


@dataclass(frozen=True)
class GradTracking:
    requires_grad: bool
    grad_fn: str | None  # the name of the function that made the output, None when no graph was kept
    graph_nodes: int  # backward functions reachable from the output: what backward would walk


def grad_tracking(model: SpecNet, image: torch.Tensor) -> tuple[GradTracking, GradTracking]:
    """The output of one image with the graph recorded, and under torch.no_grad() (eval mode both times)."""
    was_training = model.training
    model.eval()
    batched = image.unsqueeze(0)
    recorded = model(batched)
    with torch.no_grad():
        bare = model(batched)
    model.train(was_training)
    return _tracking(recorded), _tracking(bare)


def _tracking(output: torch.Tensor) -> GradTracking:
    seen, waiting = set(), [output.grad_fn] if output.grad_fn is not None else []
    while waiting:
        node = waiting.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        waiting.extend(next_node for next_node, _ in node.next_functions)
    return GradTracking(output.requires_grad, None if output.grad_fn is None else type(output.grad_fn).__name__,
                        len(seen))


# --- Reproducibility: the same seed, the same loss ------------------------------------------------------


def seeded_loss(make_model: Callable[[int], SpecNet], data: MnistData, batch_size: int, seed: int) -> float:
    """The train-mode loss of a batch drawn with seed, dropout drawn from seed, on make_model(seed) (a fresh net
    seeded with it, or a copy of a trained one). The same seed gives the same float, to the last digit."""
    images, labels, _ = draw_batch(data, batch_size, seed)
    model = make_model(seed)
    model.train()
    model.use_generator(torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float(F.nll_loss(model(images), labels))


# --- The tensor lab: PyTorch's own answer on zero tensors -----------------------------------------------

MAX_LAB_DIMENSIONS = 6  # more dimensions than any tensor in this course
MAX_LAB_ELEMENTS = 10_000_000  # 40 MB of float32 zeros: enough for a batch of MNIST, bounded per click
TENSOR_OPERATIONS = ("view", "reshape", "squeeze", "unsqueeze", "flatten", "bmm")


@dataclass(frozen=True)
class TensorResult:
    code: str  # the line of PyTorch that was run
    shape: tuple[int, ...] | None  # the result's shape, None when PyTorch refused
    refusal: str  # PyTorch's own message, "" when it worked


def parse_shape(text: str, allow_minus_one: bool = False) -> tuple[int, ...]:
    """"64, 1, 28, 28" (or 64 x 1 x 28 x 28) -> (64, 1, 28, 28); StepError naming what is wrong."""
    cleaned = text.replace("×", ",").replace("x", ",").replace("(", "").replace(")", "").replace(" ", "")
    parts = [part for part in cleaned.split(",") if part]
    if not parts:
        raise StepError(f"{text!r} is not a shape: write sizes separated by commas, such as 64, 1, 28, 28.",
                        "not_a_shape", text=text)
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        raise StepError(f"{text!r} is not a shape: every size must be a whole number.", "not_a_shape",
                        text=text) from None
    if len(sizes) > MAX_LAB_DIMENSIONS:
        raise StepError(f"{len(sizes)} dimensions is more than the lab's {MAX_LAB_DIMENSIONS}.", "too_many_dimensions",
                        count=len(sizes), limit=MAX_LAB_DIMENSIONS)
    lowest = -1 if allow_minus_one else 0
    if any(size < lowest for size in sizes):
        raise StepError(f"Sizes must be {lowest} or more, got {text!r}.", "negative_size", text=text, lowest=lowest)
    elements = math.prod(size for size in sizes if size > 0)
    if elements > MAX_LAB_ELEMENTS:
        raise StepError(f"{elements:,} elements is over the lab's limit of {MAX_LAB_ELEMENTS:,}.", "too_many_elements",
                        count=elements, limit=MAX_LAB_ELEMENTS)
    return sizes


def _shape_code(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, shape))


def tensor_operation(operation: str, shape: tuple[int, ...], argument: tuple[int, ...] | int | None = None) -> TensorResult:
    """Run one operation on torch.zeros(shape) and report the shape, or PyTorch's refusal word for word.

    view/reshape: argument is the new shape (may hold -1); squeeze/unsqueeze: argument is the dim (None for
    squeeze: every size-1 dim); flatten: nn.Flatten() (start_dim 1); bmm: argument is the second tensor's shape.
    """
    if operation not in TENSOR_OPERATIONS:
        raise StepError(f"{operation!r} is not one of {', '.join(TENSOR_OPERATIONS)}.", "operation",
                        operation=operation)
    x = torch.zeros(shape)
    if operation in ("view", "reshape"):
        code = f"torch.zeros({_shape_code(shape)}).{operation}({_shape_code(argument)})"
        run = lambda: getattr(x, operation)(*argument)  # noqa: E731
    elif operation == "squeeze":
        code = f"torch.zeros({_shape_code(shape)}).squeeze({'' if argument is None else argument})"
        run = (lambda: x.squeeze()) if argument is None else (lambda: x.squeeze(argument))
    elif operation == "unsqueeze":
        code = f"torch.zeros({_shape_code(shape)}).unsqueeze({argument})"
        run = lambda: x.unsqueeze(argument)  # noqa: E731
    elif operation == "flatten":
        code = f"nn.Flatten()(torch.zeros({_shape_code(shape)}))"
        run = lambda: nn.Flatten()(x)  # noqa: E731
    else:
        if len(shape) == 3 and len(argument) == 3 and shape[0] * shape[1] * argument[2] > MAX_LAB_ELEMENTS:
            raise StepError(f"The product would hold {shape[0] * shape[1] * argument[2]:,} elements, over the lab's "
                            f"limit of {MAX_LAB_ELEMENTS:,}.", "too_many_elements",
                            count=shape[0] * shape[1] * argument[2], limit=MAX_LAB_ELEMENTS)
        code = f"torch.bmm(torch.zeros({_shape_code(shape)}), torch.zeros({_shape_code(argument)}))"
        other = torch.zeros(argument)
        run = lambda: torch.bmm(x, other)  # noqa: E731
    try:
        return TensorResult(code, tuple(run().shape), "")
    except (RuntimeError, IndexError, ValueError) as refusal:
        return TensorResult(code, None, str(refusal).strip())
