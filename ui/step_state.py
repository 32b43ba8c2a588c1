"""The step page's lab and results in st.session_state: the learner's own copy of a network, never the session's.

The lab is rebuilt (and the results cleared) when its source changes: another preset, batch size or seed, or a
newer session model. Each stage stores its result under RESULTS_KEY, so every result stays on screen as the
learner advances.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from mnist_core import MnistData, TrainingState
from mnist_core.network.spec import NetSpec, SpecNet
from mnist_core.training.presets import PRESETS
from mnist_core.training.step import StepLab, copy_training_state, fresh_model, new_lab
from ui.session import session_model

SOURCE_SESSION = "session"  # the session's trained model; any other source is a preset's name
LAB_KEY = "step_lab"  # (LabKey, StepLab)
RESULTS_KEY = "step_results"  # {stage: result}
# Widgets whose defaults come from the lab's network and optimizer: a new lab starts them afresh.
LAB_WIDGET_KEYS = ("step_parameter", "step_learning_rate", "step_momentum")


@dataclass(frozen=True)
class LabKey:
    source: str
    batch_size: int
    seed: int
    session_state: TrainingState | None  # the session model the lab copied: a newer one is a new object

    def same_as(self, other: "LabKey") -> bool:
        return (self.source, self.batch_size, self.seed) == (other.source, other.batch_size, other.seed) \
            and self.session_state is other.session_state


def sources(trained: TrainingState | None) -> list[str]:
    return ([SOURCE_SESSION] if trained is not None else []) + list(PRESETS)


def current_lab(source: str, batch_size: int, seed: int, data: MnistData, trained: TrainingState | None) -> StepLab:
    """The lab for these choices: the kept one when nothing changed, else a new one (and no results yet)."""
    key = LabKey(source, batch_size, seed, trained if source == SOURCE_SESSION else None)
    kept = st.session_state.get(LAB_KEY)
    if kept is not None and kept[0].same_as(key):
        return kept[1]
    if source == SOURCE_SESSION and trained is not None:
        model, optimizer = copy_training_state(trained)
        config, recipe = trained.config, trained.recipe
    else:
        preset = PRESETS[source]
        state = fresh_model(NetSpec.from_dict(preset.spec), preset.config, preset.recipe, seed)
        model, optimizer, config, recipe = state.model, state.optimizer, state.config, state.recipe
    lab = new_lab(model, optimizer, config, recipe, data, batch_size, seed)
    st.session_state[LAB_KEY] = (key, lab)
    st.session_state[RESULTS_KEY] = {}
    for widget in LAB_WIDGET_KEYS:
        st.session_state.pop(widget, None)
    return lab


def results() -> dict[str, Any]:
    return st.session_state.setdefault(RESULTS_KEY, {})


def model_factory(source: str) -> Callable[[int], SpecNet]:
    """What "run again with a seed" builds: a fresh preset net from that seed, or a copy of the session's model
    (whose weights no seed changes; the seed then draws the batch and the dropout masks)."""
    if source == SOURCE_SESSION:
        trained = session_model()
        if trained is not None:
            return lambda seed: copy.deepcopy(trained.model).to("cpu")
    preset = PRESETS[source if source in PRESETS else next(iter(PRESETS))]
    return lambda seed: fresh_model(NetSpec.from_dict(preset.spec), preset.config, preset.recipe, seed).model
