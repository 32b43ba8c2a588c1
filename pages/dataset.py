"""The tutorial's "observe the test data" step, made interactive."""

import math
import random

import pandas as pd
import streamlit as st

from mnist_core import MEAN, STD, TrainConfig, get_preset, to_pixels
from mnist_core.data import DATA_DIR_ENV, N_CLASSES, SOURCE_EMBEDDED
from mnist_core.samples import MAX_SAMPLES, MIN_SAMPLES, SampleError, class_counts, pick_samples, pixel_stats
from ui.data import data_or_stop
from ui.dataset_charts import class_distribution_figure, digit_heatmap_figure, draw_sample_grid, thumbnails
from ui.i18n import t
from ui.navigation import ensure_router

ensure_router()

SEED_KEY = "dataset_seed"
SEED_LIMIT = 2**31 - 1  # torch.Generator.manual_seed takes any int; keep it typeable
# The Digit box's "no filter" option. Not None: a None written back to a selectbox's key (app.py keeps
# page inputs that way) reads to Streamlit as "nothing chosen", and the box went blank.
ALL_DIGITS = "all"
FULL_MNIST_TRAIN = 60_000  # images in MNIST's own training split
TUTORIAL_FULL_MNIST_ACCURACY = 97.1  # percent: the tutorial's test accuracy after its 3 epochs on full MNIST


def sgd_steps(n_train: int, config: TrainConfig) -> int:
    """Optimizer steps in a run of config.n_epochs over n_train images (the last batch of an epoch may be short)."""
    return config.n_epochs * math.ceil(n_train / config.batch_size_train)


@st.cache_resource(show_spinner=False)
def training_pixel_stats(_data, source: str, location: str, n_train: int):
    """Computed once per dataset (the underscore keeps the tensors out of the cache key)."""
    return pixel_stats(_data.train_images)


def reshuffle() -> None:
    st.session_state[SEED_KEY] = random.randrange(SEED_LIMIT)


st.title(t("dataset.title"))
st.write(t("dataset.intro"))

data = data_or_stop()

if data.source == SOURCE_EMBEDDED:
    tutorial = TrainConfig()  # the tutorial's settings, which the Train page starts from
    st.info(
        t(
            "dataset.embedded_notice",
            n_train=data.n_train,
            n_test=data.n_test,
            variable=DATA_DIR_ENV,
            epochs=tutorial.n_epochs,
            batch=tutorial.batch_size_train,
            steps=sgd_steps(data.n_train, tutorial),
            full_steps=sgd_steps(FULL_MNIST_TRAIN, tutorial),
            accuracy=get_preset("tutorial").expected_accuracy,
            full_accuracy=TUTORIAL_FULL_MNIST_ACCURACY,
            modern_accuracy=get_preset("modern").expected_accuracy,
        )
    )

st.subheader(t("dataset.samples_heading"))
controls = st.columns([1, 2, 1, 1, 1], vertical_alignment="bottom")
split = controls[0].radio(
    t("dataset.split"),
    ["test", "train"],
    format_func=lambda name: t(f"dataset.split_{name}"),
    horizontal=True,
    key="dataset_split", persist_state="session",
)
st.session_state.setdefault("dataset_count", MIN_SAMPLES)  # a default, not value=: app.py writes the key back
count = controls[1].slider(t("dataset.count"), MIN_SAMPLES, MAX_SAMPLES, help=t("dataset.count_help"),
                           key="dataset_count", persist_state="session")
digit_choice = controls[2].selectbox(
    t("dataset.digit_filter"),
    [ALL_DIGITS, *range(N_CLASSES)],
    format_func=lambda value: t("dataset.all_digits") if value == ALL_DIGITS else str(value),
    key="dataset_digit", persist_state="session",
)
digit = None if digit_choice == ALL_DIGITS else digit_choice
st.session_state.setdefault(SEED_KEY, 0)
seed = controls[3].number_input(t("dataset.seed"), 0, SEED_LIMIT, key=SEED_KEY,
                                persist_state="session", help=t("dataset.seed_help"))
controls[4].button(t("dataset.reshuffle"), on_click=reshuffle, icon=":material/shuffle:", key="dataset_reshuffle")

images = data.test_images if split == "test" else data.train_images
labels = data.test_labels if split == "test" else data.train_labels
try:
    picked = pick_samples(labels, count, digit=digit, seed=int(seed))
except SampleError as exc:
    st.warning(f"{t('dataset.no_samples')} {exc}")
    st.stop()

picked_pixels = to_pixels(images[picked].cpu())
picked_labels = labels[picked].tolist()
if len(picked) < count:
    st.caption(t("dataset.fewer_samples", shown=len(picked), count=count))
draw_sample_grid(thumbnails(picked_pixels), [t("dataset.ground_truth", label=label) for label in picked_labels])

left, right = st.columns(2)
with left:
    st.subheader(t("dataset.distribution_heading"))
    counts = {"train": class_counts(data.train_labels), "test": class_counts(data.test_labels)}
    st.plotly_chart(class_distribution_figure(counts))
    st.caption(t("dataset.distribution_note"))

    st.subheader(t("dataset.normalize_heading"))
    stats = training_pixel_stats(data, data.source, data.location, data.n_train)
    st.table(
        pd.DataFrame(
            {
                t("dataset.normalize_used"): [f"{MEAN:.4f}", f"{STD:.4f}"],
                t("dataset.normalize_measured", n_train=data.n_train): [f"{stats.mean:.4f}", f"{stats.std:.4f}"],
            },
            index=[t("dataset.mean"), t("dataset.std")],
        )
    )
    st.caption(t("dataset.normalize_note"))

with right:
    st.subheader(t("dataset.heatmap_heading"))
    position = st.selectbox(
        t("dataset.enlarge"),
        range(len(picked)),
        format_func=lambda i: t("dataset.enlarge_option", number=i + 1, label=picked_labels[i]),
        key="dataset_enlarged",
    )
    index = picked[position]
    st.plotly_chart(digit_heatmap_figure(picked_pixels[position], images[index].cpu(), picked_labels[position]))
    st.caption(t("dataset.heatmap_note"))
