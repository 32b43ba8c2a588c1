"""The training page in Streamlit's AppTest: controls, validation, a short real training run, reloads.

AppTest does not run a fragment's run_every timer, so the tests poll the job with at.run().
"""

from __future__ import annotations

import base64
import json
import secrets

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import History, TrainConfig, checkpoint_bytes, load_checkpoint
from tests.apptest.app import TRAIN_WAIT_S, open_page, train_until_done
from ui.i18n import LANGUAGE_KEY, strings
from ui.session import SESSION_KEY, TOKEN_PARAM
from ui.train_charts import MAX_CURVE_POINTS

EN, ZH = strings("en"), strings("zh")


def open_train_page(language: str = "en", token: str | None = None) -> AppTest:
    return open_page("pages/train.py", language, token)


def test_every_setting_starts_at_the_tutorials_value():
    app = open_train_page()
    tutorial = TrainConfig()
    assert app.number_input(key="train_n_epochs").value == tutorial.n_epochs
    assert app.number_input(key="train_batch_size_train").value == tutorial.batch_size_train
    assert app.number_input(key="train_batch_size_test").value == tutorial.batch_size_test
    assert app.number_input(key="train_log_interval").value == tutorial.log_interval
    assert app.number_input(key="train_random_seed").value == tutorial.random_seed
    assert app.select_slider(key="train_learning_rate").value == tutorial.learning_rate
    assert app.slider(key="train_momentum").value == tutorial.momentum
    assert not app.button(key="train_start").disabled
    assert app.button(key="train_stop").disabled


def test_learning_rate_slider_is_logarithmic():
    app = open_train_page()
    options = [float(option) for option in app.select_slider(key="train_learning_rate").options]
    assert options[0] == 0.0001 and options[-1] == 10.0 and 0.01 in options
    ratios = {round(b / a, 1) for a, b in zip(options, options[1:])}
    assert ratios <= {1.7, 1.8, 1.9}  # four steps a decade: each about 10 ** 0.25 = 1.78 times the last


def test_reset_brings_back_the_tutorials_values():
    app = open_train_page()
    app.number_input(key="train_n_epochs").set_value(7)
    app.slider(key="train_momentum").set_value(0.9)
    app.select_slider(key="train_learning_rate").set_value(0.1).run()
    app.button(key="train_reset").click().run()
    assert app.number_input(key="train_n_epochs").value == 3
    assert app.slider(key="train_momentum").value == 0.5
    assert app.select_slider(key="train_learning_rate").value == 0.01


@pytest.mark.parametrize(("field", "value", "rule", "label", "low", "high"), [
    ("train_n_epochs", 500, "range", "train.epochs", 1, 100),
    ("train_batch_size_train", 5_000, "range", "train.batch_size_train", 1, 4_096),
    ("train_log_interval", 20_000, "range", "train.log_interval", 1, 10_000),
    # Below the minimum too: with a min_value, Streamlit would refuse these silently and keep the last value.
    ("train_n_epochs", 0, "range", "train.epochs", 1, 100),
    ("train_log_interval", 0, "range", "train.log_interval", 1, 10_000),
    ("train_random_seed", -5, "range", "train.random_seed", 0, 2**32 - 1),
])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_invalid_settings_explain_themselves_and_block_training(field, value, rule, label, low, high, language):
    app = open_train_page(language)
    app.number_input(key=field).set_value(value).run()
    assert not app.exception
    table = strings(language)
    reason = table[f"train.config_error_{rule}"].format(field=table[label], value=value, low=low, high=high)
    assert [e.value for e in app.error] == [f"**{table['train.invalid_settings']}** {reason}"]
    assert app.button(key="train_start").disabled
    assert app.button(key="train_start").label == table["train.start"]


def test_every_invalid_setting_is_named_at_once():
    app = open_train_page()
    app.number_input(key="train_batch_size_train").set_value(5_000).run()
    app.number_input(key="train_batch_size_test").set_value(0).run()
    assert len(app.error) == 1
    message = app.error[0].value
    assert message.startswith(f"**{EN['train.invalid_settings']}**")
    for label, value, low, high in [("train.batch_size_train", 5_000, 1, 4_096), ("train.batch_size_test", 0, 1, 10_000)]:
        assert "- " + EN["train.config_error_range"].format(field=EN[label], value=value, low=low, high=high) in message
    assert app.button(key="train_start").disabled


def test_continue_refuses_more_epochs_out_of_range(trained_token):
    app = open_train_page(token=trained_token)
    for more in (0, 101):
        app.number_input(key="train_more_epochs").set_value(more).run()
        reason = EN["train.config_error_range"].format(field=EN["train.more_epochs"], value=more, low=1, high=100)
        assert [e.value for e in app.error] == [f"**{EN['train.invalid_settings']}** {reason}"]
        assert app.button(key="train_continue").disabled
    app.number_input(key="train_more_epochs").set_value(2).run()
    assert not app.error and not app.button(key="train_continue").disabled


def test_train_shows_curves_results_and_survives_a_reload():
    app = open_train_page()
    app.number_input(key="train_n_epochs").set_value(1).run()
    app.button(key="train_start").click().run()
    assert app.button(key="train_start").disabled, "a second Train must not be possible while training"
    assert not app.button(key="train_stop").disabled
    train_until_done(app)

    assert app.success[0].value == EN["train.finished"].format(epochs=1)
    assert not app.warning  # 44% after one epoch: learning, so no "barely better than guessing"
    figures = [chart.proto.spec for chart in app.get("plotly_chart")]
    live = next(spec for spec in figures if EN["train.chart_examples_axis"] in spec)
    assert EN["train.chart_loss_axis"] in live and EN["train.chart_test_loss"] in live
    table = app.dataframe[0].value
    assert list(table[EN["train.table_epoch"]]) == [0, 1]
    assert any(EN["train.confusion_true_axis"] in spec for spec in figures)  # results appear after training
    assert any("Prediction: " in spec for spec in figures)
    assert app.button(key="train_continue").label == EN["train.continue"]
    # Continue says which settings it uses: the model's, as the tutorial does, not the form's.
    app.select_slider(key="train_learning_rate").set_value(0.1).run()
    assert EN["train.continue_settings"].format(lr="0.01", momentum=0.5, batch=64) in [c.value for c in app.caption]

    token = app.query_params[TOKEN_PARAM]
    token = token[0] if isinstance(token, list) else token
    reloaded = open_train_page(token=token)  # a new browser session with the same URL
    assert reloaded.dataframe[0].value.equals(table)
    assert reloaded.session_state[SESSION_KEY] is app.session_state[SESSION_KEY]


def test_a_new_browser_session_starts_empty():
    app = open_train_page()
    assert app.caption and any(c.value == EN["train.no_curve_yet"] for c in app.caption)
    assert not app.dataframe


def test_gallery_follows_the_chosen_cell(trained_state):
    from mnist_core import checkpoint_bytes

    app = open_train_page()
    app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(trained_state), name="three.pt")
    app.run()
    true_box, predicted_box = app.selectbox[-2:]
    assert (true_box.value, predicted_box.value) == (4, 9)
    true_box.select(7).run()
    true_box, predicted_box = app.selectbox[-2:]
    assert (true_box.value, predicted_box.value) == (7, 9)
    caption = next(c.value for c in app.caption if "were read as" in c.value)
    assert "of a 7 were read as 9" in caption


def test_upload_message_follows_the_language_and_goes_once_the_model_changes(trained_state):
    from mnist_core import checkpoint_bytes

    app = open_train_page()
    app.file_uploader(key="train_upload").set_value(("three.pt", checkpoint_bytes(trained_state),
                                                     "application/octet-stream")).run()
    assert [s.value for s in app.success] == [EN["train.upload_ok"].format(name="three.pt")]
    app.session_state[LANGUAGE_KEY] = "zh"
    app.run()
    assert [s.value for s in app.success] == [ZH["train.upload_ok"].format(name="three.pt")]

    app.session_state[LANGUAGE_KEY] = "en"
    app.number_input(key="train_more_epochs").set_value(1)
    app.button(key="train_continue").click().run()
    train_until_done(app)
    # The file still sits in the uploader, but the model is no longer the one it held.
    assert EN["train.upload_ok"].format(name="three.pt") not in [s.value for s in app.success]
    assert app.success[0].value == EN["train.finished"].format(epochs=4)
    assert not app.error


def test_two_runs_overlay_on_one_chart(trained_state):
    from mnist_core import checkpoint_bytes

    app = open_train_page()
    for name in ("a.pt", "b.pt"):
        app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(trained_state), name=name)
    app.run()
    first, second = app.selectbox(key="train_compare_first"), app.selectbox(key="train_compare_second")
    labels = [EN["lab.run_label"].format(number=n, network="tutorial", parameters="21,840", optimizer="SGD", lr="0.01")
              + EN["train.run_uploaded"].format(name=name) for n, name in ((1, "a.pt"), (2, "b.pt"))]
    assert first.options == second.options == labels
    assert (first.value, second.value) == (0, 1)  # the newest two
    compared = next(json.loads(chart.proto.spec) for chart in app.get("plotly_chart")
                    if EN["lab.compare_chart_title"] in chart.proto.spec)
    runs = [" · " + EN["train.run_short"].format(number=number) for number in (1, 2)]
    assert [trace["name"] for trace in compared["data"]] == [  # each run's train and test loss, then the accuracies
        EN["train.chart_train_loss"] + runs[0], EN["train.chart_test_loss"] + runs[0],
        EN["train.chart_train_loss"] + runs[1], EN["train.chart_test_loss"] + runs[1],
        EN["train.chart_accuracy"] + runs[0], EN["train.chart_accuracy"] + runs[1]]


@pytest.mark.parametrize(("learning_rate", "cause"), [
    (10.0, "train.barely_learning_large"),  # finite loss on these digits, but every image gets the same answer
    (0.0001, "train.barely_learning_small"),  # one epoch hardly moves the weights
])
def test_a_run_that_learned_nothing_says_why(learning_rate, cause):
    app = open_train_page()
    app.number_input(key="train_n_epochs").set_value(1)
    app.select_slider(key="train_learning_rate").set_value(learning_rate).run()
    app.button(key="train_start").click().run()
    train_until_done(app)
    assert app.success[0].value == EN["train.finished"].format(epochs=1)
    accuracy = app.session_state[SESSION_KEY].model().history.test_accuracy[-1]
    assert [w.value for w in app.warning] == [
        EN["train.barely_learning"].format(epochs=1, accuracy=f"{accuracy:.1%}", guessing="10%") + " "
        + EN[cause].format(lr=f"{learning_rate:g}", tutorial_lr="0.01")]


@pytest.fixture
def server_with_one_busy_slot(monkeypatch):
    """Make the server's limiter one slot, taken by another learner, with room for max_waiting more."""
    from mnist_core.runtime import limiter as limiter_module

    made = []

    def make(max_waiting: int) -> limiter_module.SlotLimiter:
        limiter = limiter_module.SlotLimiter(1, max_waiting=max_waiting)
        assert limiter.acquire()
        monkeypatch.setattr(limiter_module, "_default_limiter", limiter)  # sessions made from now on queue here
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        limiter.release()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_full_server_says_busy_and_changes_nothing(server_with_one_busy_slot, language):
    server_with_one_busy_slot(max_waiting=0)
    app = open_train_page(language)
    app.number_input(key="train_n_epochs").set_value(1).run()
    app.button(key="train_start").click().run()
    assert not app.exception
    busy = strings(language)["common.server_busy"].format(slots=1, waiting=0)
    assert [w.value for w in app.warning] == [busy]
    assert not app.button(key="train_start").disabled  # the learner may try again
    assert app.button(key="train_stop").disabled
    session = app.session_state[SESSION_KEY]
    assert not session.job.active and session.runs() == [] and session.model() is None


def test_a_waiting_job_shows_its_place_in_line(server_with_one_busy_slot):
    limiter = server_with_one_busy_slot(max_waiting=2)
    ahead = limiter.enqueue()  # another learner is waiting already
    app = open_train_page()
    app.number_input(key="train_n_epochs").set_value(1).run()
    app.button(key="train_start").click().run()
    second = EN["train.waiting_position"].format(position=2, busy=1, slots=1)
    assert second in [i.value for i in app.info]
    limiter.cancel(ahead)
    app.run()
    assert EN["train.waiting_position"].format(position=1, busy=1, slots=1) in [i.value for i in app.info]
    app.button(key="train_stop").click().run()
    session = app.session_state[SESSION_KEY]
    assert session.job.join(TRAIN_WAIT_S)
    assert not app.exception


def test_a_closed_tabs_session_is_forgotten_and_its_files_deleted(trained_state):
    from mnist_core import save_checkpoint
    from ui.session import _registry, checkpoint_path

    token = secrets.token_hex(16)
    saved = save_checkpoint(trained_state, checkpoint_path(token))
    app = open_train_page(token=token)  # restored from the file, as after a server restart
    assert app.dataframe
    registry = _registry()
    registry._remembered[token].last_seen -= registry.idle_seconds  # nobody has seen it for the idle time
    assert token in registry.sweep()
    assert not saved.parent.exists()
    reopened = open_train_page(token=token)  # the link, opened again later: a new, empty session
    assert not reopened.dataframe
    assert reopened.session_state[SESSION_KEY] is not app.session_state[SESSION_KEY]


def plotly_values(values) -> list:
    """A trace's x or y from a figure's JSON: a plain list, or Plotly's binary form for numpy arrays."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return values


def test_a_long_history_is_drawn_from_a_bounded_number_of_points_and_keeps_its_spike(trained_state):
    """200,000 logged losses (batch size 1, logged every batch, for 3+ epochs of the full set) with one
    spike: the live chart gets at most MAX_CURVE_POINTS of them, the first, the last and the spike."""
    n_points, spike_at = 200_000, 123_457
    losses = np.linspace(2.3, 0.1, n_points)
    losses[spike_at] = 7.5
    state = load_checkpoint(checkpoint_bytes(trained_state))
    old = state.history
    state.history = History(train_losses=losses, train_counter=np.arange(n_points), test_losses=list(old.test_losses),
                            test_counter=list(old.test_counter), test_accuracy=list(old.test_accuracy))
    app = open_train_page()
    app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(state), name="long.pt")
    app.run()
    live = next(json.loads(chart.proto.spec) for chart in app.get("plotly_chart")
                if EN["train.chart_examples_axis"] in chart.proto.spec)
    x, y = plotly_values(live["data"][0]["x"]), plotly_values(live["data"][0]["y"])
    assert len(x) == len(y) <= MAX_CURVE_POINTS
    assert (x[0], x[-1]) == (0, n_points - 1)
    assert max(y) == 7.5 and x[y.index(7.5)] == spike_at


# --- Honest numbers (issue 15): steps beside the epochs, what to expect, why a run ended low -----------------------

def test_the_steps_a_run_takes_show_beside_the_epochs_and_follow_them():
    app = open_train_page()
    captions = [c.value for c in app.caption]
    # The figure: the tutorial's 3 epochs at batch 64 on the 4,000 embedded digits.
    assert EN["train.steps"].format(steps=189, epochs=3, per_epoch=63, batch=64, n_train=4_000) in captions
    app.number_input(key="train_n_epochs").set_value(10).run()
    app.number_input(key="train_batch_size_train").set_value(100).run()
    assert EN["train.steps"].format(steps=400, epochs=10, per_epoch=40, batch=100, n_train=4_000) in [
        c.value for c in app.caption]
    app.number_input(key="train_batch_size_train").set_value(5_000).run()  # refused: no steps from it
    assert not [c.value for c in app.caption if "SGD steps" in c.value]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_what_to_expect_is_said_before_training(language):
    app = open_train_page(language)
    table = strings(language)
    expected = table["train.expectation"].format(full_steps=2_814, full_accuracy="97", n_train=4_000, steps=189,
                                                 accuracy="77", modern_epochs=10, modern_steps=630,
                                                 modern_accuracy="99")
    assert expected in [i.value for i in app.info]


def load_model_with_accuracy(app: AppTest, trained_state, accuracy: float) -> None:
    """The 3-epoch tutorial model, its last test accuracy set to `accuracy`, as this session's model."""
    state = load_checkpoint(checkpoint_bytes(trained_state))
    old = state.history
    state.history = History(train_losses=list(old.train_losses), train_counter=list(old.train_counter),
                            test_losses=list(old.test_losses), test_counter=list(old.test_counter),
                            test_accuracy=[*old.test_accuracy[:-1], accuracy])
    app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(state), name="low.pt")
    app.run()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_run_far_below_the_tutorial_says_it_took_too_few_steps(trained_state, language):
    app = open_train_page(language)
    load_model_with_accuracy(app, trained_state, 0.773)
    advice = strings(language)["train.few_steps"].format(
        accuracy="77.3", full_accuracy="97", steps=189, epochs=3, full_steps=2_814, more_epochs=45,
        modern_accuracy="99", modern_steps=630)
    assert advice in [i.value for i in app.info]
    assert not app.warning  # learning, only slowly: not "barely better than guessing"


def test_a_model_near_the_tutorials_figure_gets_no_advice(trained_state):
    app = open_train_page()
    load_model_with_accuracy(app, trained_state, 0.95)
    assert not [i.value for i in app.info if EN["train.few_steps"].split("{")[0] in i.value]


# --- One snapshot per redraw (issue 15): the progress line, the live panel and the sidebar agree ------------------

def snapshots_that_change_at_every_look(session):
    """Replace session.snapshot by one that moves a running job on by one epoch at every call."""
    from mnist_core.runtime import JobSnapshot, JobStatus

    calls = []

    def snapshot():
        calls.append(None)
        n = len(calls)
        return JobSnapshot(status=JobStatus.RUNNING, epochs_done=n, target_epochs=100, epoch=n + 1,
                           run_examples_done=1_000 * n, run_examples_total=100_000, elapsed_seconds=float(n),
                           history=History(test_losses=[2.3], test_counter=[0], test_accuracy=[0.1]))

    session.snapshot = snapshot
    return calls


def test_progress_examples_and_sidebar_come_from_one_snapshot():
    app = open_train_page()
    session = app.session_state[SESSION_KEY]
    snapshots_that_change_at_every_look(session)
    try:
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        line = app.get("progress")[0].proto.text
        done = int(line.split(" of ")[1].split("·")[1].replace(",", ""))  # "Epoch E of 100 · D of 100,000 ..."
        epoch = int(line.split(" ")[1])
        examples = next(m.value for m in app.metric if m.label == EN["train.metric_run_examples"])
        status = [c.value for c in app.sidebar.caption]
        assert len(app.get("progress")) == 1  # one progress bar: the compact line beside the buttons
        assert examples == f"{done:,}"
        assert status == [EN["app.model_training"].format(epochs=epoch - 1, accuracy="10.0%")]
        assert done == 1_000 * (epoch - 1)
    finally:
        del session.snapshot  # the real method again, for the tests that share this session's registry


def test_the_compared_runs_stay_as_chosen_until_a_new_run_brings_the_newest_two(trained_state):
    app = open_train_page()
    session = app.session_state[SESSION_KEY]
    for name in ("a.pt", "b.pt", "c.pt"):
        session.load_checkpoint(checkpoint_bytes(trained_state), name=name)
    app.run()
    assert (app.selectbox(key="train_compare_first").value, app.selectbox(key="train_compare_second").value) == (1, 2)
    app.selectbox(key="train_compare_first").select(0).run()
    app.run()  # another run of the page, say a poll: the choice stays
    assert (app.selectbox(key="train_compare_first").value, app.selectbox(key="train_compare_second").value) == (0, 2)
    session.load_checkpoint(checkpoint_bytes(trained_state), name="d.pt")
    app.run()
    assert (app.selectbox(key="train_compare_first").value, app.selectbox(key="train_compare_second").value) == (2, 3)
    assert not app.exception


# --- the checkpoint section (issue 15, defect 3) ---------------------------------------------------------------


def checkpoint_table(app: AppTest):
    """The section's list of this run's saved epochs, or None."""
    return next((frame.value for frame in app.dataframe if EN["train.checkpoint_col_from"] in frame.value.columns),
                None)


def test_a_waiting_run_is_not_called_nothing_trained(server_with_one_busy_slot):
    server_with_one_busy_slot(max_waiting=1)  # the run waits for the slot: active, nothing trained yet
    app = open_train_page()
    app.number_input(key="train_n_epochs").set_value(1).run()
    app.button(key="train_start").click().run()
    captions = [caption.value for caption in app.caption]
    assert EN["train.no_model_yet"] not in captions
    assert EN["train.checkpoint_training_none_yet"] in captions
    app.button(key="train_stop").click().run()
    assert app.session_state[SESSION_KEY].job.join(TRAIN_WAIT_S)
    assert not app.exception


def test_while_training_the_section_lists_as_many_epochs_as_the_sidebar_counts(trained_state):
    """Epochs end while the page polls: the section and the sidebar are drawn from one snapshot."""
    app = open_train_page()
    session = app.session_state[SESSION_KEY]
    session.load_checkpoint(checkpoint_bytes(trained_state), name="three.pt")
    app.run()
    app.number_input(key="train_more_epochs").set_value(20)
    app.button(key="train_continue").click().run()
    saved_so_far = EN["train.checkpoint_saved_so_far"].split("{")[0]
    polls = 0
    while session.job.active and len(session.snapshot().epoch_checkpoints) < 3:
        app.run()
        polls += 1
        captions = [caption.value for caption in app.caption]
        assert EN["train.no_model_yet"] not in captions
        shown = [caption for caption in captions if caption.startswith(saved_so_far)]
        assert shown, captions
        last_saved = int(shown[0].removeprefix(saved_so_far).split(".")[0].split("–")[-1])
        sidebar = [caption.value for caption in app.sidebar.caption]
        training = EN["app.model_training"].split("{")[0]
        assert any(line.startswith(f"{training}{last_saved},") for line in sidebar), (shown, sidebar)
    assert polls and session.job.active, "the run ended before the page saw it train"
    app.button(key="train_stop").click().run()
    assert session.job.join(TRAIN_WAIT_S)
    assert not app.exception


def test_the_section_lists_each_epoch_and_can_go_back_to_one():
    app = open_train_page()
    app.number_input(key="train_n_epochs").set_value(3).run()
    app.button(key="train_start").click().run()
    train_until_done(app)
    session = app.session_state[SESSION_KEY]
    accuracies = list(session.model().history.test_accuracy)[1:]
    table = checkpoint_table(app)
    assert list(table[EN["train.checkpoint_col_epoch"]]) == [1, 2, 3]
    assert list(table[EN["train.checkpoint_col_accuracy"]]) == [f"{accuracy:.1%}" for accuracy in accuracies]
    assert list(table[EN["train.checkpoint_col_examples"]]) == ["4,000", "8,000", "12,000"]
    picker = app.selectbox(key="train_checkpoint_epoch")
    assert picker.options == [f"{n} · {a:.1%}" for n, a in zip((1, 2, 3), accuracies)]
    assert app.button(key="train_checkpoint_load_epoch").disabled  # epoch 3 is the current model

    picker.set_value(1).run()
    app.button(key="train_checkpoint_load_epoch").click().run()
    assert session.model().epochs_done == 3  # asked first
    current = EN["train.checkpoint_model"].format(epoch=3, accuracy=f"{accuracies[2]:.1%}",
                                                  network=EN["lab.preset_tutorial"])
    new = EN["train.checkpoint_model_of_run"].format(epoch=1, accuracy=f"{accuracies[0]:.1%}")
    assert [w.value for w in app.warning] == [EN["train.checkpoint_replace_question"].format(current=current, new=new)
                                              + " " + EN["train.checkpoint_replace_note_epoch"]]
    app.button(key="train_checkpoint_replace").click().run()
    assert session.model().epochs_done == 1 and list(session.model().history.test_accuracy)[1:] == accuracies[:1]
    assert EN["train.checkpoint_loaded_epoch"].format(epoch=1) in [s.value for s in app.success]
    assert list(checkpoint_table(app)[EN["train.checkpoint_col_epoch"]]) == [1, 2, 3]  # still there to go back to
    assert not app.warning and not app.exception


def older_checkpoint(trained_state) -> bytes:
    """trained_state as it was after its first epoch, as far as the list and the question can tell."""
    state = load_checkpoint(checkpoint_bytes(trained_state))
    old = state.history
    state.epochs_done, state.examples_seen = 1, int(old.test_counter[1])
    state.history = History(train_losses=list(old.train_losses), train_counter=list(old.train_counter),
                            test_losses=list(old.test_losses)[:2], test_counter=list(old.test_counter)[:2],
                            test_accuracy=[0.5, 0.812])
    return checkpoint_bytes(state)


def test_uploading_over_a_trained_model_asks_first_and_keep_keeps_it(trained_state):
    app = open_train_page()
    session = app.session_state[SESSION_KEY]
    session.load_checkpoint(checkpoint_bytes(trained_state), name="better.pt")
    app.run()
    better = session.model()
    accuracy = f"{trained_state.history.test_accuracy[-1]:.1%}"
    upload = ("older.pt", older_checkpoint(trained_state), "application/octet-stream")
    app.file_uploader(key="train_upload").set_value(upload).run()

    assert session.model() is better and len(session.runs()) == 1  # nothing changed yet
    current = EN["train.checkpoint_model"].format(epoch=3, accuracy=accuracy, network=EN["lab.preset_tutorial"])
    new = EN["train.checkpoint_model_from_file"].format(epoch=1, accuracy="81.2%", name="older.pt")
    assert [w.value for w in app.warning] == [EN["train.checkpoint_replace_question"].format(current=current, new=new)
                                              + " " + EN["train.checkpoint_replace_note_upload"]]
    app.button(key="train_checkpoint_keep").click().run()
    assert session.model() is better and len(session.runs()) == 1
    assert [(entry.epoch, entry.source) for entry in session.epoch_checkpoints()] == [(3, "better.pt")]
    assert not app.warning and not app.success
    app.run()  # the file still sits in the uploader: it is not asked about, or loaded, again
    assert session.model() is better and not app.warning

    app.file_uploader(key="train_upload").set_value(upload).run()  # dropped in again: a new file, a new question
    app.button(key="train_checkpoint_replace").click().run()
    assert session.model().epochs_done == 1 and len(session.runs()) == 2
    assert [s.value for s in app.success] == [EN["train.upload_ok"].format(name="older.pt")]
    assert list(checkpoint_table(app)[EN["train.checkpoint_col_from"]]) == ["older.pt"]
    assert not app.exception


def test_the_draw_pages_quick_model_progress_and_the_sidebar_come_from_one_snapshot():
    """The Draw page's progress uses the same watcher (ui.job_watch) as the Train page and the sidebar."""
    app = open_page("pages/draw.py")
    session = app.session_state[SESSION_KEY]
    snapshots_that_change_at_every_look(session)
    try:
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        [line] = [p.proto.text for p in app.get("progress")]
        epoch = int(line.split(" ")[2])  # "Training epoch E of 100: P%"
        assert [c.value for c in app.sidebar.caption] == [
            EN["app.model_training"].format(epochs=epoch - 1, accuracy="10.0%")]
    finally:
        del session.snapshot


def test_examples_seen_counts_a_stopped_runs_partial_epoch(trained_state):
    """The issue's run: stopped 3,904 examples into an epoch. Its last test point is at the epoch's start,
    but the weights have seen the 3,904 more, and the panel says so, as the stop message does."""
    state = load_checkpoint(checkpoint_bytes(trained_state))
    state.examples_seen += 3_904
    app = open_train_page()
    app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(state), name="stopped.pt")
    app.run()
    seen = next(m.value for m in app.metric if m.label == EN["train.metric_examples"])
    assert seen == f"{trained_state.examples_seen + 3_904:,}"


def test_the_question_names_a_model_stopped_inside_an_epoch_as_partial(trained_state):
    state = load_checkpoint(checkpoint_bytes(trained_state))
    state.examples_seen += 640  # stopped 640 examples into epoch 4
    state.history.stop_points.append(state.examples_seen)
    app = open_train_page()
    app.session_state[SESSION_KEY].load_checkpoint(checkpoint_bytes(state), name="stopped.pt")
    app.run()
    app.file_uploader(key="train_upload").set_value(
        ("older.pt", older_checkpoint(trained_state), "application/octet-stream")).run()
    current = EN["train.checkpoint_model_partial"].format(
        epochs=3, epoch=4, examples="640", accuracy=f"{trained_state.history.test_accuracy[-1]:.1%}",
        network=EN["lab.preset_tutorial"])
    assert app.warning[0].value.startswith(EN["train.checkpoint_replace_question"].format(
        current=current, new=EN["train.checkpoint_model_from_file"].format(epoch=1, accuracy="81.2%", name="older.pt")))
    assert app.session_state[SESSION_KEY].model().examples_into_epoch == 640  # not replaced before Replace


def stopped_checkpoint(trained_state) -> bytes:
    """trained_state stopped 640 examples into epoch 4."""
    state = load_checkpoint(checkpoint_bytes(trained_state))
    state.examples_seen += 640
    state.history.stop_points.append(state.examples_seen)
    return checkpoint_bytes(state)


def test_a_file_or_saved_epoch_stopped_inside_an_epoch_is_named_partial_in_the_question(trained_state, embedded_data):
    app = open_train_page()
    session = app.session_state[SESSION_KEY]
    session.load_checkpoint(older_checkpoint(trained_state), name="older.pt")
    app.run()
    accuracy = f"{trained_state.history.test_accuracy[-1]:.1%}"
    partial = {"epochs": 3, "epoch": 4, "examples": "640", "accuracy": accuracy}
    app.file_uploader(key="train_upload").set_value(
        ("stopped.pt", stopped_checkpoint(trained_state), "application/octet-stream")).run()
    current = EN["train.checkpoint_model"].format(epoch=1, accuracy="81.2%", network=EN["lab.preset_tutorial"])
    new = EN["train.checkpoint_model_from_file_partial"].format(name="stopped.pt", **partial)
    assert [w.value for w in app.warning] == [EN["train.checkpoint_replace_question"].format(current=current, new=new)
                                              + " " + EN["train.checkpoint_replace_note_upload"]]
    app.button(key="train_checkpoint_replace").click().run()
    assert session.model().examples_into_epoch == 640

    assert session.continue_training(1, embedded_data)  # finishes epoch 4: the list has 3 + 640, then 4
    assert session.job.join(TRAIN_WAIT_S)
    app.run()
    app.selectbox(key="train_checkpoint_epoch").set_value(3).run()
    app.button(key="train_checkpoint_load_epoch").click().run()
    new = EN["train.checkpoint_model_of_run_partial"].format(**partial)
    assert new in app.warning[0].value
    app.button(key="train_checkpoint_replace").click().run()
    assert EN["train.checkpoint_loaded_partial"].format(**partial) in [s.value for s in app.success]
    assert session.model().examples_into_epoch == 640 and not app.exception


def test_a_file_dropped_in_while_training_can_be_loaded_once_the_training_ends(server_with_one_busy_slot,
                                                                               trained_state):
    """Reading a file needs no idle job: only Replace does. The file is not refused for good while training."""
    server_with_one_busy_slot(max_waiting=1)  # the first run waits for the slot: training, and no model yet
    app = open_train_page()
    app.number_input(key="train_n_epochs").set_value(1).run()
    app.button(key="train_start").click().run()
    session = app.session_state[SESSION_KEY]
    assert session.job.active and session.model() is None
    app.file_uploader(key="train_upload").set_value(
        ("three.pt", checkpoint_bytes(trained_state), "application/octet-stream")).run()
    assert not app.error, [e.value for e in app.error]
    new = EN["train.checkpoint_model_from_file"].format(epoch=3, accuracy=f"{trained_state.history.test_accuracy[-1]:.1%}",
                                                        name="three.pt")
    assert [w.value for w in app.warning] == [EN["train.checkpoint_upload_waits"].format(new=new)]
    assert app.button(key="train_checkpoint_replace").disabled and session.model() is None

    app.button(key="train_stop").click().run()
    assert session.job.join(TRAIN_WAIT_S)
    app.run()  # nothing trained to lose: the waiting file is loaded without a question
    assert not app.error, [e.value for e in app.error]
    assert session.model().epochs_done == 3
    assert [s.value for s in app.success] == [EN["train.upload_ok"].format(name="three.pt")]
    assert not app.exception
