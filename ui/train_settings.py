"""The Train page's settings: every TrainConfig field as a widget, the SGD steps the run will take beside the
epochs, and what to expect of it on the data loaded, before anything trains."""

from __future__ import annotations

import streamlit as st

from mnist_core import ConfigError, MnistData, TrainConfig, available_devices, config_errors, get_preset
from mnist_core.data import SOURCE_EMBEDDED
from mnist_core.runtime.progress import FULL_MNIST_TRAIN, TUTORIAL_FULL_MNIST_ACCURACY, sgd_steps
from ui.i18n import t

FIELDS = ("n_epochs", "batch_size_train", "batch_size_test", "learning_rate", "momentum", "log_interval",
          "random_seed", "device")


def widget_key(field: str) -> str:
    return f"train_{field}"


def reset_settings() -> None:
    for field, value in TrainConfig().to_dict().items():
        st.session_state[widget_key(field)] = value


def steps_caption(column, n_train: int) -> None:
    """The optimizer steps the epochs and batch size above give on n_train images, once both are valid."""
    epochs, batch = st.session_state[widget_key("n_epochs")], st.session_state[widget_key("batch_size_train")]
    if config_errors({"n_epochs": epochs, "batch_size_train": batch}):
        return  # the form names the bad field below
    column.caption(t("train.steps", steps=sgd_steps(n_train, batch, epochs), epochs=epochs,
                     per_epoch=sgd_steps(n_train, batch), batch=batch, n_train=n_train))


def expectation(data: MnistData) -> None:
    """On the embedded digits, the tutorial's settings take far fewer steps than on full MNIST: say so before
    training, with the accuracy each preset reaches here (bench/presets.py's figures)."""
    if data.source != SOURCE_EMBEDDED:
        return
    tutorial, modern = get_preset("tutorial"), get_preset("modern")
    full = TrainConfig()  # the tutorial's settings, on the full set
    st.info(t("train.expectation", full_steps=sgd_steps(FULL_MNIST_TRAIN, full.batch_size_train, full.n_epochs),
              full_accuracy=f"{TUTORIAL_FULL_MNIST_ACCURACY:.0f}", n_train=data.n_train,
              steps=sgd_steps(data.n_train, tutorial.config.batch_size_train, tutorial.config.n_epochs),
              accuracy=f"{tutorial.expected_accuracy:.0f}", modern_epochs=modern.config.n_epochs,
              modern_steps=sgd_steps(data.n_train, modern.config.batch_size_train, modern.config.n_epochs),
              modern_accuracy=f"{modern.expected_accuracy:.0f}"))


def settings_form(data: MnistData) -> TrainConfig | None:
    """Every TrainConfig field as a widget; the config, or None after showing why it is invalid.

    The number inputs have no min_value or max_value: Streamlit would refuse an out-of-range number
    silently and keep the last one, so TrainConfig checks them and the page names every bad field.
    """
    for field, value in TrainConfig().to_dict().items():  # a default, not value=: reset writes the keys
        st.session_state.setdefault(widget_key(field), value)
    st.subheader(t("train.settings_heading"))
    left, middle, right = st.columns(3)
    left.number_input(t("train.epochs"), step=1, key=widget_key("n_epochs"),
                      persist_state="session", help=t("train.epochs_help"))
    steps_caption(left, data.n_train)
    # The learning rate and momentum are drawn in the Recipe section, beside the optimizer that uses them.
    middle.number_input(t("train.batch_size_train"), step=16, key=widget_key("batch_size_train"),
                        persist_state="session", help=t("train.batch_size_train_help"))
    middle.number_input(t("train.batch_size_test"), step=100, key=widget_key("batch_size_test"),
                        persist_state="session", help=t("train.batch_size_test_help"))
    right.number_input(t("train.log_interval"), step=1, key=widget_key("log_interval"), persist_state="session",
                       help=t("train.log_interval_help"))
    right.number_input(t("train.random_seed"), step=1, key=widget_key("random_seed"), persist_state="session",
                       help=t("train.random_seed_help"))
    devices = available_devices()
    if len(devices) > 1:
        right.selectbox(t("train.device"), ["auto", *devices], key=widget_key("device"),
                        persist_state="session", help=t("train.device_help"))
    else:
        st.session_state[widget_key("device")] = "auto"
    st.button(t("train.reset"), on_click=reset_settings, help=t("train.reset_help"), key="train_reset")
    expectation(data)

    values = {field: st.session_state[widget_key(field)] for field in FIELDS}
    errors = config_errors(values)
    if errors:
        show_config_errors(errors)
        return None
    return TrainConfig(**values)


def show_config_errors(errors: list[ConfigError], label_key: str | None = None) -> None:
    """One message naming every refused field, in the form's words (label_key: the label, where it differs)."""
    reasons = [
        t(f"train.config_error_{exc.rule}", value=exc.value, low=exc.low, high=exc.high,
          field=t(label_key or ("train.epochs" if exc.field == "n_epochs" else f"train.{exc.field}")))
        for exc in errors
    ]
    heading = f"**{t('train.invalid_settings')}**"
    st.error(f"{heading} {reasons[0]}" if len(reasons) == 1 else "\n".join([heading, *(f"- {r}" for r in reasons)]))
