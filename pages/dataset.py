"""The tutorial's "observe the test data" step, made interactive."""

import random
from dataclasses import dataclass

import pandas as pd
import streamlit as st
import torch

from mnist_core import MEAN, STD, TrainConfig, get_preset, predict, to_pixels
from mnist_core.data import DATA_DIR_ENV, N_CLASSES, SOURCE_EMBEDDED
from mnist_core.inference import inference_model
from mnist_core.runtime.progress import FULL_MNIST_TRAIN, TUTORIAL_FULL_MNIST_ACCURACY, sgd_steps
from mnist_core.samples import MAX_SAMPLES, MIN_SAMPLES, SampleError, class_counts, pick_samples, pixel_stats
from ui.data import data_or_stop
from ui.dataset_charts import (
    Verdict,
    class_distribution_figure,
    digit_heatmap_figure,
    draw_sample_grid,
    thumbnails,
)
from ui.i18n import percent, t
from ui.navigation import ensure_router
from ui.session import per_model, session_model

SEED_KEY = "dataset_seed"
SEED_LIMIT = 2**31 - 1  # torch.Generator.manual_seed takes any int; keep it typeable
# The Digit box's "no filter" option. Not None: a None kept for a selectbox's key reads to Streamlit as
# "nothing chosen", and the box went blank.
ALL_DIGITS = "all"
SESSION_MODEL_KEY = "dataset_session_model"  # a CPU copy of the session's model, made once per published model


@dataclass(frozen=True)
class Samples:
    """The digits the grid shows: positions in their split, their pixels and labels."""
    images: torch.Tensor  # the whole split, normalized
    picked: torch.Tensor  # positions in the split
    pixels: torch.Tensor  # uint8, len(picked) x 1 x 28 x 28
    labels: list[int]


@st.cache_resource(show_spinner=False)
def training_pixel_stats(_data, source: str, location: str, n_train: int):
    """Computed once per dataset (the underscore keeps the tensors out of the cache key)."""
    return pixel_stats(_data.train_images)


def reshuffle() -> None:
    st.session_state[SEED_KEY] = random.randrange(SEED_LIMIT)


def embedded_notice(data) -> None:
    """What the embedded 4,000 training digits mean for accuracy, said before anyone trains."""
    if data.source != SOURCE_EMBEDDED:
        return
    tutorial = TrainConfig()  # the tutorial's settings, which the Train page starts from
    st.info(t(
        "dataset.embedded_notice", n_train=data.n_train, n_test=data.n_test, variable=DATA_DIR_ENV,
        epochs=tutorial.n_epochs, batch=tutorial.batch_size_train, steps=sgd_steps(data.n_train, tutorial.batch_size_train, tutorial.n_epochs),
        full_steps=sgd_steps(FULL_MNIST_TRAIN, tutorial.batch_size_train, tutorial.n_epochs), accuracy=get_preset("tutorial").expected_accuracy,
        full_accuracy=TUTORIAL_FULL_MNIST_ACCURACY, modern_accuracy=get_preset("modern").expected_accuracy,
    ))


def pick(data) -> Samples | None:
    """The controls above the grid -> the chosen samples, or None after saying why there are none."""
    # labels looked up now: a format_func is also called outside the script run, where t() has no session
    split_names = {name: t(f"dataset.split_{name}") for name in ("test", "train")}
    digit_names = {ALL_DIGITS: t("dataset.all_digits"), **{digit: str(digit) for digit in range(N_CLASSES)}}
    controls = st.columns([1, 2, 1, 1, 1], vertical_alignment="bottom")
    split = controls[0].radio(t("dataset.split"), list(split_names), format_func=split_names.get, horizontal=True,
                              key="dataset_split", persist_state="session")
    st.session_state.setdefault("dataset_count", MIN_SAMPLES)  # a default, not value=, beside a kept value
    count = controls[1].slider(t("dataset.count"), MIN_SAMPLES, MAX_SAMPLES, help=t("dataset.count_help"),
                               key="dataset_count", persist_state="session")
    digit_choice = controls[2].selectbox(t("dataset.digit_filter"), list(digit_names), format_func=digit_names.get,
                                         key="dataset_digit", persist_state="session")
    st.session_state.setdefault(SEED_KEY, 0)
    seed = controls[3].number_input(t("dataset.seed"), 0, SEED_LIMIT, key=SEED_KEY, persist_state="session",
                                    help=t("dataset.seed_help"))
    controls[4].button(t("dataset.reshuffle"), on_click=reshuffle, icon=":material/shuffle:", key="dataset_reshuffle")

    images = data.test_images if split == "test" else data.train_images
    labels = data.test_labels if split == "test" else data.train_labels
    try:
        picked = pick_samples(labels, count, digit=None if digit_choice == ALL_DIGITS else digit_choice, seed=int(seed))
    except SampleError as exc:
        st.warning(f"{t('dataset.no_samples')} {exc}")
        return None
    if len(picked) < count:
        st.caption(t("dataset.fewer_samples", shown=len(picked), count=count))
    return Samples(images, picked, to_pixels(images[picked].cpu()), labels[picked].tolist())


def verdicts(samples: Samples) -> list[Verdict] | None:
    """What the model trained (or loaded) in this session reads in each sample, with a note above the grid;
    None, with a hint, before there is one."""
    trained = session_model()
    if trained is None:
        st.caption(t("dataset.predictions_hint"))
        return None
    model = per_model(SESSION_MODEL_KEY, trained, inference_model)  # a copy that training elsewhere cannot change
    predicted = predict(model, samples.images[samples.picked].cpu()).argmax(dim=1).tolist()
    found = [Verdict(guess, guess == label) for guess, label in zip(predicted, samples.labels)]
    st.caption(t("dataset.predictions_note", epochs=trained.epochs_done,
                 accuracy=percent(trained.history.last_test_accuracy),
                 right=sum(verdict.right for verdict in found), shown=len(found)))
    return found


def sample_grid(samples: Samples) -> None:
    found = verdicts(samples)
    draw_sample_grid(thumbnails(samples.pixels), [t("dataset.ground_truth", label=label) for label in samples.labels],
                     found)


def distribution_section(data) -> None:
    st.subheader(t("dataset.distribution_heading"))
    counts = {"train": class_counts(data.train_labels), "test": class_counts(data.test_labels)}
    st.plotly_chart(class_distribution_figure(counts))
    st.caption(t("dataset.distribution_note"))


def normalization_section(data) -> None:
    """The constants the tutorial normalizes with, beside the same two numbers measured on the loaded digits."""
    st.subheader(t("dataset.normalize_heading"))
    stats = training_pixel_stats(data, data.source, data.location, data.n_train)
    st.table(pd.DataFrame(
        {
            t("dataset.normalize_used"): [f"{MEAN:.4f}", f"{STD:.4f}"],
            t("dataset.normalize_measured", n_train=data.n_train): [f"{stats.mean:.4f}", f"{stats.std:.4f}"],
        },
        index=[t("dataset.mean"), t("dataset.std")],
    ))
    st.caption(t("dataset.normalize_note"))


def enlarged_sample_section(samples: Samples) -> None:
    st.subheader(t("dataset.heatmap_heading"))
    labels = samples.labels
    options = [t("dataset.enlarge_option", number=i + 1, label=label) for i, label in enumerate(labels)]
    position = st.selectbox(t("dataset.enlarge"), range(len(options)), format_func=options.__getitem__,
                            key="dataset_enlarged")
    normalized = samples.images[samples.picked[position]].cpu()
    st.plotly_chart(digit_heatmap_figure(samples.pixels[position], normalized, labels[position]))
    st.caption(t("dataset.heatmap_note"))


ensure_router()
st.title(t("dataset.title"))
st.write(t("dataset.intro"))
data = data_or_stop()
embedded_notice(data)
st.subheader(t("dataset.samples_heading"))
samples = pick(data)
if samples is None:
    st.stop()
sample_grid(samples)
left, right = st.columns(2)
with left:
    distribution_section(data)
    normalization_section(data)
with right:
    enlarged_sample_section(samples)
