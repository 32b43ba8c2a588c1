"""Issue 15, defect 2: a run stopped inside an epoch is labelled partial in the sidebar, the epoch table and the
chart, and Continue finishes that epoch, so the table never lists an epoch at the wrong number of examples."""

from __future__ import annotations

import json
import secrets

import pytest

from mnist_core import TrainConfig, new_training_state, save_checkpoint, train
from tests.apptest.app import open_page, train_until_done
from ui.i18n import strings
from ui.session import checkpoint_path

EN = strings("en")
BATCHES_INTO_EPOCH_2 = 10  # of the embedded digits' 63 batches of 64
PARTIAL = BATCHES_INTO_EPOCH_2 * 64


@pytest.fixture(scope="module")
def stopped_state(embedded_data):
    """A model that did epoch 1 and was stopped 640 examples into epoch 2."""
    state = new_training_state(TrainConfig(n_epochs=2, device="cpu"))
    polls = []
    per_epoch = -(-embedded_data.n_train // 64)
    list(train(state, embedded_data, should_stop=lambda: polls.append(1) or len(polls) > per_epoch + BATCHES_INTO_EPOCH_2))
    assert (state.epochs_done, state.examples_into_epoch) == (1, PARTIAL)
    return state


@pytest.fixture
def stopped_token(stopped_state) -> str:
    """A session (its own for each test) with the stopped model, as after a reload of that tab."""
    state = stopped_state
    token = secrets.token_hex(16)
    save_checkpoint(state, checkpoint_path(token))
    return token


def epoch_table(app):
    return next(frame.value for frame in app.dataframe
                if {EN["train.table_epoch"], EN["train.table_test_loss"]} <= set(frame.value.columns))


def live_chart(app) -> str:
    return next(chart.proto.spec for chart in app.get("plotly_chart") if EN["train.chart_examples_axis"] in chart.proto.spec)


def test_a_stop_mid_epoch_is_labelled_partial_and_continue_finishes_that_epoch(stopped_token, embedded_data):
    n_train = embedded_data.n_train
    app = open_page("pages/train.py", token=stopped_token)
    sidebar = " ".join(caption.value for caption in app.sidebar.caption)
    assert EN["app.model_trained_partial"].split("{")[0] in sidebar
    assert f"{PARTIAL:,} examples of epoch 2" in sidebar
    table = epoch_table(app)
    partial_label = EN["train.table_partial_epoch"].format(epoch=2, examples=f"{PARTIAL:,}")
    assert list(table[EN["train.table_epoch"]]) == ["0", "1", partial_label]
    assert list(table[EN["train.table_examples"]]) == [0, n_train, n_train + PARTIAL]
    annotations = [a["text"] for a in json.loads(live_chart(app))["layout"]["annotations"]]
    assert EN["train.chart_stopped"].format(epoch=2) in annotations

    app.number_input(key="train_more_epochs").set_value(1).run()
    app.button(key="train_continue").click().run()
    train_until_done(app)
    table = epoch_table(app)
    assert list(table[EN["train.table_epoch"]]) == [0, 1, 2]
    assert list(table[EN["train.table_examples"]]) == [0, n_train, 2 * n_train]  # epoch 2 finished, not restarted
    sidebar = " ".join(caption.value for caption in app.sidebar.caption)
    assert EN["app.model_trained"].split("{")[0] + "2," in sidebar
    assert EN["train.chart_stopped"].format(epoch=2) not in live_chart(app)


@pytest.fixture
def download_names(monkeypatch) -> dict:
    """Each download button's file name, by the media URL its proto carries."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    names = {}
    add = MediaFileManager.add

    def keep(manager, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        url = add(manager, data, mimetype, coordinates, file_name, is_for_static_download)
        names[url] = file_name
        return url

    monkeypatch.setattr(MediaFileManager, "add", keep)
    return names


def test_the_saved_checkpoint_of_a_stopped_model_is_labelled_partial_too(stopped_token, download_names):
    """The reloaded session lists its stopped model as its run's first checkpoint: the list, the picker, the
    buttons and the file name say partial, not "epoch 1"."""
    app = open_page("pages/train.py", token=stopped_token)
    partial = {"epochs": 1, "epoch": 2, "examples": f"{PARTIAL:,}"}
    table = next(frame.value for frame in app.dataframe if EN["train.checkpoint_col_from"] in frame.value.columns)
    assert list(table[EN["train.checkpoint_col_epoch"]]) == [EN["train.checkpoint_partial_entry"].format(**partial)]
    picker = app.selectbox(key="train_checkpoint_epoch")
    assert [option.split(" · ")[0] for option in picker.options] == [f"1 + {PARTIAL:,}"]
    epoch_download = app.download_button(key="train_checkpoint_download_epoch")
    assert epoch_download.label == EN["train.checkpoint_download_partial"].format(**partial)
    assert app.button(key="train_checkpoint_load_epoch").label == EN["train.checkpoint_load_partial"].format(**partial)
    model_download = next(button for button in app.get("download_button") if button.proto.label == EN["train.download"])
    names = [download_names[button.proto.url] for button in (epoch_download, model_download)]
    assert names == [f"mnist_cnn_epoch1_plus{PARTIAL}.pt"] * 2  # the saved entry and the current model: one state
    assert not app.exception
