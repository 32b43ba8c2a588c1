"""The Train page's "Recipe" section: the optimizer and its fields, the learning rate (picked or typed), the
schedule with its curve over the planned steps, and augmentation with a live grid of augmented digits."""

from __future__ import annotations


import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core import ConfigError, MnistData, Recipe, TrainConfig, to_pixels
from mnist_core.runtime.progress import sgd_steps
from mnist_core.training.augment import AUGMENTATIONS, augmented_grid
from mnist_core.training.recipe import OPTIMIZERS, SCHEDULES, check_recipe_for_config, learning_rate_curve
from ui.i18n import t

LEARNING_RATES = [float(f"{10 ** (k / 4):.3g}") for k in range(-16, 5)]  # 0.0001 ... 10, four steps a decade
RATE_KEY, TYPED_RATE_KEY = "train_learning_rate", "train_learning_rate_typed"
AUGMENT_KEY = "train_augment_{}"
CURVE_STEPS = 500  # steps the schedule is simulated over: its shape depends only on the fraction of the run done
CURVE_HEIGHT = 220
GRID_ROWS, GRID_COLUMNS = 2, 8  # the 16 augmented digits
GRID_SCALE = 3  # screen pixels per MNIST pixel
GRID_GAP = 2  # blank MNIST pixels between digits


def set_recipe_widgets(recipe: Recipe, config: TrainConfig) -> None:
    """Show recipe and config's learning rate and momentum in the widgets (called before they are drawn)."""
    state = st.session_state
    state["train_optimizer"], state["train_nesterov"] = recipe.optimizer, recipe.nesterov
    state["train_weight_decay"], state["train_schedule"] = recipe.weight_decay, recipe.schedule
    for kind in AUGMENTATIONS:
        state[AUGMENT_KEY.format(kind)] = kind in recipe.augment
    state[RATE_KEY] = state[TYPED_RATE_KEY] = config.learning_rate
    state["train_momentum"] = config.momentum


def _typed_rate() -> None:
    st.session_state[RATE_KEY] = st.session_state[TYPED_RATE_KEY]


def _picked_rate() -> None:
    st.session_state[TYPED_RATE_KEY] = st.session_state[RATE_KEY]


def _learning_rate(column) -> None:
    rate = st.session_state.setdefault(RATE_KEY, TrainConfig().learning_rate)
    st.session_state[TYPED_RATE_KEY] = rate  # both show the one rate, whichever was moved
    # A typed rate between the slider's stops becomes a stop of its own, so the slider can show it.
    options = sorted({*LEARNING_RATES, rate}) if isinstance(rate, (int, float)) else LEARNING_RATES
    column.select_slider(t("train.learning_rate"), options=options, key=RATE_KEY,
                         persist_state="session", on_change=_picked_rate,
                         format_func=lambda value: f"{value:g}", help=t("train.learning_rate_help"))
    column.number_input(t("lab.learning_rate_typed"), key=TYPED_RATE_KEY, on_change=_typed_rate, format="%g",
                        step=None, help=t("lab.learning_rate_typed_help"))


def _recipe_error(error: ConfigError) -> None:
    st.error(t(f"lab.recipe_error_{error.rule}", field=t(f"lab.recipe_{error.field}"), value=error.value,
               low=error.low, high=error.high), icon=":material/block:")


def _recipe_widgets() -> Recipe | None:
    defaults = Recipe()
    for name in ("optimizer", "nesterov", "weight_decay", "schedule"):
        st.session_state.setdefault(f"train_{name}", getattr(defaults, name))
    left, middle = st.columns(2)
    optimizer = left.selectbox(t("lab.recipe_optimizer"), OPTIMIZERS, key="train_optimizer",
                               format_func={name: t(f"lab.optimizer_{name}") for name in OPTIMIZERS}.get,
                               persist_state="session", help=t("lab.recipe_optimizer_help"))
    _learning_rate(middle)
    if optimizer == "sgd":
        left.slider(t("train.momentum"), min_value=0.0, max_value=0.99, step=0.01, key="train_momentum",
                    persist_state="session", help=t("train.momentum_help"))
        left.checkbox(t("lab.recipe_nesterov"), key="train_nesterov", persist_state="session",
                      help=t("lab.recipe_nesterov_help"))
        left.markdown(t("lab.sgd_update"))
    else:
        left.caption(t("lab.adam_note"))
    left.number_input(t("lab.recipe_weight_decay"), key="train_weight_decay", format="%g", step=1e-4,
                      persist_state="session", help=t("lab.recipe_weight_decay_help"))
    middle.selectbox(t("lab.recipe_schedule"), SCHEDULES, key="train_schedule", persist_state="session",
                     format_func={name: t(f"lab.schedule_{name}") for name in SCHEDULES}.get,
                     help=t("lab.recipe_schedule_help"))
    augment = [kind for kind in AUGMENTATIONS if st.session_state.get(AUGMENT_KEY.format(kind))]
    try:
        return Recipe(optimizer=optimizer, nesterov=optimizer == "sgd" and bool(st.session_state["train_nesterov"]),
                      weight_decay=st.session_state["train_weight_decay"], schedule=st.session_state["train_schedule"],
                      augment=tuple(augment))
    except ConfigError as error:
        _recipe_error(error)
        return None


@st.cache_data(show_spinner=False, max_entries=64)
def _rate_curve(config: TrainConfig, recipe: Recipe, total_steps: int) -> tuple[np.ndarray, list[float]]:
    simulated = min(total_steps, CURVE_STEPS)
    rates = learning_rate_curve(config, recipe, simulated)
    return np.arange(simulated) * total_steps / simulated, rates


def _schedule_chart(config: TrainConfig, recipe: Recipe, n_train: int) -> None:
    total_steps = sgd_steps(n_train, config.batch_size_train, config.n_epochs)
    steps, rates = _rate_curve(config, recipe, total_steps)
    figure = go.Figure(go.Scatter(x=steps, y=rates, mode="lines", line={"color": "#1f77b4"},
                                  hovertemplate=t("lab.rate_hover") + "<extra></extra>"))
    figure.update_layout(height=CURVE_HEIGHT, margin={"t": 30, "b": 40, "l": 60, "r": 10},
                         title=t("lab.rate_chart_title", steps=f"{total_steps:,}"),
                         xaxis_title=t("lab.rate_chart_x"), yaxis_title=t("lab.rate_chart_y"))
    figure.update_yaxes(rangemode="tozero")
    st.plotly_chart(figure, key="train_rate_chart")


@st.cache_data(show_spinner=False, max_entries=32)
def _grid_pixels(kinds: tuple[str, ...], seed: int, _images, source: str) -> np.ndarray:
    """GRID_ROWS x GRID_COLUMNS augmented training digits tiled into one enlarged 0-255 image."""
    count = GRID_ROWS * GRID_COLUMNS
    pixels = to_pixels(augmented_grid(_images[:count], kinds, seed, count)).squeeze(1).numpy()
    side = pixels.shape[-1] + GRID_GAP
    tiled = np.full((GRID_ROWS * side, GRID_COLUMNS * side), 255, dtype=np.uint8)
    for index, digit in enumerate(pixels):
        row, column = divmod(index, GRID_COLUMNS)
        tiled[row * side:row * side + digit.shape[0], column * side:column * side + digit.shape[1]] = 255 - digit
    return np.kron(tiled, np.ones((GRID_SCALE, GRID_SCALE), dtype=np.uint8))


def _augmentation(data: MnistData, seed: int) -> None:
    st.markdown(f"**{t('lab.augment_heading')}**")
    toggles = st.columns(len(AUGMENTATIONS))
    for column, kind in zip(toggles, AUGMENTATIONS):
        column.toggle(t(f"lab.augment_{kind}"), key=AUGMENT_KEY.format(kind), persist_state="session",
                      help=t(f"lab.augment_{kind}_help"))
    kinds = tuple(kind for kind in AUGMENTATIONS if st.session_state.get(AUGMENT_KEY.format(kind)))
    st.image(_grid_pixels(kinds, seed, data.train_images, data.location),
             caption=t("lab.augment_grid_caption" if kinds else "lab.augment_grid_off"))


def recipe_section(config: TrainConfig | None, data: MnistData) -> Recipe | None:
    """The recipe widgets; the Recipe, or None after saying why it cannot train (config: for the chart)."""
    st.subheader(t("lab.recipe_heading"))
    st.markdown(t("lab.recipe_intro"))
    recipe = _recipe_widgets()
    if recipe is not None and config is not None:
        try:
            check_recipe_for_config(config, recipe)
        except ConfigError as error:
            _recipe_error(error)
            recipe = None
        else:
            _schedule_chart(config, recipe, data.n_train)
    _augmentation(data, TrainConfig().random_seed if config is None else config.random_seed)
    return recipe
