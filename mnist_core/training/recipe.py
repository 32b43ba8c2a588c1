"""How a network is trained, beside TrainConfig: the optimizer, the learning-rate schedule and augmentation.

TrainConfig keeps the step size (``learning_rate``: the constant rate, or the peak of a schedule) and SGD's
``momentum``; a Recipe says what uses them. The defaults are the tutorial's: plain SGD with momentum,
no weight decay, a constant rate and no augmentation.

Schedules are planned over ONE run's steps (``total_steps`` = epochs x batches per epoch of that run). A
continued run plans a new schedule over its own steps: OneCycle warms up and anneals again, cosine starts
again from the full rate. That keeps a resume simple and honest (the chart shows what each run did), at the
price that "3 epochs, then 2 more" is not the same run as "5 epochs".
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, OneCycleLR

from .augment import AUGMENTATIONS
from .config import ConfigError, TrainConfig, _check_number, _setting

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine")
# Weight decay multiplies every weight by (1 - lr x decay) a step (AdamW) or adds decay x weight to the
# gradient (SGD, Adam). Common values are 1e-4 to 0.1; above 1 it would pull weights to zero faster
# than any gradient could hold them.
MAX_WEIGHT_DECAY = 1.0
# OneCycle: the rate starts at peak / ONECYCLE_START_DIVISOR, rises to the peak over the first
# ONECYCLE_WARMUP_FRACTION of the run, then anneals to start / ONECYCLE_FINAL_DIVISOR (torch's defaults).
ONECYCLE_WARMUP_FRACTION = 0.3
ONECYCLE_START_DIVISOR = 25.0
ONECYCLE_FINAL_DIVISOR = 1e4
COSINE_FINAL_LEARNING_RATE = 0.0  # cosine annealing ends at this rate on the run's last step


@dataclass(frozen=True)
class Recipe:
    """The tutorial's training recipe unless told otherwise; refuses bad values with a ConfigError whose rule is
    "choice" (not among OPTIMIZERS, SCHEDULES or AUGMENTATIONS), "boolean", "nesterov_optimizer" (Nesterov on
    Adam), "number", "range" (weight_decay), "augment_list" (not a list) or "augment_repeated"; and, with a
    TrainConfig, "nesterov_momentum" (check_recipe_for_config)."""

    optimizer: str = _setting("sgd", "sgd (with TrainConfig's momentum), adam, or adamw (decoupled weight decay)")
    nesterov: bool = _setting(False, "SGD only: Nesterov momentum, which looks one step ahead; needs momentum above 0")
    weight_decay: float = _setting(0.0, "pulls every weight towards 0 a little each step (L2); 0 turns it off")
    schedule: str = _setting("constant", "learning rate over one run: constant, onecycle (warm up, then anneal) or cosine (anneal)")
    augment: tuple[str, ...] = _setting(
        (), "random changes to each training batch: rotate (turn and slant), scale, shift, stroke (thicker or thinner ink)"
    )

    def __post_init__(self) -> None:
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if not isinstance(self.nesterov, bool):
            raise ConfigError(f"nesterov must be true or false, got {self.nesterov!r}.", "nesterov", "boolean", self.nesterov)
        if self.nesterov and self.optimizer != "sgd":
            raise ConfigError(
                f"nesterov applies to SGD only, not {self.optimizer}.", "nesterov", "nesterov_optimizer", self.optimizer
            )
        _check_number("weight_decay", self.weight_decay)
        if not (0 <= self.weight_decay <= MAX_WEIGHT_DECAY):  # also rejects NaN
            raise ConfigError(
                f"weight_decay must be between 0 and {MAX_WEIGHT_DECAY:g}, got {self.weight_decay}.",
                "weight_decay", "range", self.weight_decay, 0, MAX_WEIGHT_DECAY,
            )
        _check_choice("schedule", self.schedule, SCHEDULES)
        if isinstance(self.augment, str) or not isinstance(self.augment, (tuple, list)):
            raise ConfigError(
                f"augment must be a list of names from {', '.join(AUGMENTATIONS)}, got {self.augment!r}.",
                "augment", "augment_list", self.augment,
            )
        for name in self.augment:
            _check_choice("augment", name, AUGMENTATIONS)
        if len(set(self.augment)) != len(self.augment):
            raise ConfigError(f"augment names each kind once, got {list(self.augment)}.", "augment", "augment_repeated", list(self.augment))
        # Canonical order (AUGMENTATIONS'), as a tuple: equal recipes compare and hash equal.
        object.__setattr__(self, "augment", tuple(name for name in AUGMENTATIONS if name in self.augment))

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["augment"] = list(self.augment)  # JSON has lists, not tuples
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Recipe":
        """Build from a dict (e.g. JSON or a checkpoint), ignoring unknown keys; augment may be a list."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in values.items() if k in known}
        if isinstance(kept.get("augment"), list):
            kept["augment"] = tuple(kept["augment"])
        return cls(**kept)

    @classmethod
    def help(cls, name: str) -> str:
        """The one-line explanation of a field, in English."""
        return next(f.metadata["help"] for f in fields(cls) if f.name == name)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}.", name, "choice", value)


def check_recipe_for_config(config: TrainConfig, recipe: Recipe) -> None:
    """The one rule that needs both: Nesterov momentum needs momentum above 0 (torch refuses it otherwise)."""
    if recipe.nesterov and config.momentum <= 0:
        raise ConfigError(
            f"nesterov needs momentum above 0, got momentum {config.momentum}.",
            "nesterov", "nesterov_momentum", config.momentum, 0,
        )


def build_optimizer(parameters: Iterable[torch.nn.Parameter], config: TrainConfig, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer at config.learning_rate. The defaults give the tutorial's SGD(params, lr, momentum).

    Adam and AdamW ignore config.momentum: their own running averages (betas) play its part.
    """
    check_recipe_for_config(config, recipe)
    lr = config.learning_rate
    if recipe.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=recipe.weight_decay)
    if recipe.nesterov or recipe.weight_decay:
        return torch.optim.SGD(
            parameters, lr=lr, momentum=config.momentum, nesterov=recipe.nesterov, weight_decay=recipe.weight_decay
        )
    return torch.optim.SGD(parameters, lr=lr, momentum=config.momentum)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, recipe: Recipe, total_steps: int
) -> LRScheduler | None:
    """The learning-rate schedule over one run of total_steps optimizer steps; None for a constant rate.

    Call scheduler.step() after each optimizer.step(). OneCycle peaks at config.learning_rate and refuses to
    step past total_steps; a continued run builds a new scheduler over its own steps (see the module doc).
    Momentum (or Adam's beta1) is left as configured: only the rate follows the schedule.
    """
    if recipe.schedule == "constant":
        return None
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"a schedule needs at least 1 step, got total_steps={total_steps!r}.")
    if recipe.schedule == "onecycle":
        return OneCycleLR(
            optimizer,
            max_lr=config.learning_rate,
            total_steps=total_steps,
            pct_start=ONECYCLE_WARMUP_FRACTION,
            div_factor=ONECYCLE_START_DIVISOR,
            final_div_factor=ONECYCLE_FINAL_DIVISOR,
            cycle_momentum=False,
        )
    return CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=COSINE_FINAL_LEARNING_RATE)


def learning_rate_curve(config: TrainConfig, recipe: Recipe, total_steps: int) -> list[float]:
    """The learning rate used at each of total_steps steps, for a chart: the recipe's real scheduler, driven on
    a one-number dummy model. The rate does not depend on the optimizer (momentum is not cycled), so the dummy
    is a plain SGD that never steps: about 5 microseconds a step (a 100-epoch run on 60,000 images at batch 64
    takes half a second)."""
    if recipe.schedule == "constant":
        return [config.learning_rate] * total_steps
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
    scheduler = build_scheduler(dummy, config, recipe, total_steps)
    group = dummy.param_groups[0]
    rates = []
    with warnings.catch_warnings():
        # The dummy never calls optimizer.step(), which torch warns about once; here it is meant.
        warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()`"))
        for _ in range(total_steps):
            rates.append(group["lr"])
            scheduler.step()
    return rates
