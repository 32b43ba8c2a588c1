"""The training page in real Chromium: train 1 epoch, watch the curve grow, continue, reload."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.e2e.conftest import (
    SCREENSHOTS_DIR,
    assert_no_exception,
    enter_value,
    new_context,
    open_app_page,
    running_app,
    save_screenshot,
    wait_idle,
)
from ui.i18n import strings

EN = strings("en")
TRAIN_WAIT_S = 240  # one epoch of the embedded digits at batch 2 on a busy 2-core machine
LIVE_CHART = ".st-key-train_live_chart .js-plotly-plot"
# Plotly keeps the figure on its graph div: traces 0-1 are train loss and test loss, 2 the accuracy.
CHART_STATE = """el => !el.data || el.data.length < 2 ? null : ({
    train: el.data[0].x.length,
    test: el.data[1].x.length,
    lastExample: el.data[0].x[el.data[0].x.length - 1],
    resumeMarks: (el.layout.shapes || []).length,
    axesFrom: [el._fullLayout.xaxis.range[0], el._fullLayout.xaxis2.range[0]],
})"""


def set_number(page, label: str, value: int) -> None:
    enter_value(page, page.get_by_label(label, exact=True), value)


def chart_state(page) -> dict | None:
    chart = page.locator(LIVE_CHART)
    if chart.count() == 0:
        return None
    return chart.first.evaluate(CHART_STATE)


def wait_for_chart(page, condition: str) -> dict:
    """The live chart's state once its graph div `el` meets condition (JavaScript), e.g. enough points.

    Plotly draws after the page's run ends: the finished message, say, can show while the chart still
    holds the last live update. The state is read in the same check that saw the condition: the live view
    redraws the chart every half second, so a second look could find it between two drawings.
    """
    handle = page.wait_for_function(
        f"() => {{ const el = document.querySelector({LIVE_CHART!r});"
        f" if (!(el && el.data && el.data.length >= 2 && ({condition}))) return false;"
        f" try {{ return ({CHART_STATE})(el); }} catch (error) {{ return false; }} }}",
        timeout=TRAIN_WAIT_S * 1000,
    )
    return handle.json_value()


def watch_until_finished(page, epochs: int) -> list[dict]:
    """Chart states seen while the job runs, until the finished message for `epochs` shows."""
    finished = page.get_by_text(EN["train.finished"].format(epochs=epochs), exact=True)
    seen: list[dict] = []
    deadline = time.monotonic() + TRAIN_WAIT_S
    while finished.count() == 0:
        assert time.monotonic() < deadline, f"training did not finish; chart states seen: {seen[-3:]}"
        state = chart_state(page)
        if state is not None and (not seen or state != seen[-1]):
            seen.append(state)
        page.wait_for_timeout(250)
    wait_idle(page)
    return seen


def test_train_watch_continue_and_reload(page, app_url):
    open_app_page(page, app_url, "train")
    assert_no_exception(page)
    set_number(page, EN["train.epochs"], 1)
    set_number(page, EN["train.batch_size_train"], 2)  # 2,000 tiny steps: long enough to watch
    set_number(page, EN["train.log_interval"], 1)

    page.get_by_role("button", name=EN["train.start"], exact=True).click()
    seen = watch_until_finished(page, epochs=1)
    growing = [state["train"] for state in seen]
    assert len(set(growing)) >= 3 and growing == sorted(growing), f"the curve did not grow live: {growing}"
    assert any(state["test"] == 1 for state in seen)  # the test before training, while epoch 1 ran
    assert all(min(state["axesFrom"]) >= 0 for state in seen), "an axis showed negative examples or epochs"

    done = wait_for_chart(page, "el.data[1].x.length === 2")  # test points: before training, after epoch 1
    assert done["resumeMarks"] == 0
    accuracy = page.locator("[data-testid='stMetric']").filter(has_text=EN["train.metric_accuracy"])
    assert accuracy.inner_text().strip().endswith("%")
    grid_titles = page.locator(".st-key-train_grid .js-plotly-plot").evaluate(
        "el => el.layout.annotations.map(a => a.text)")
    assert len(grid_titles) == 12 and all("Prediction: " in title for title in grid_titles)
    expect(page.locator(".st-key-train_confusion .js-plotly-plot")).to_have_count(1)
    assert_no_exception(page)
    save_screenshot(page, "train_done")

    page.get_by_role("button", name=EN["train.continue"], exact=True).click()
    watch_until_finished(page, epochs=2)
    extended = wait_for_chart(page, "el.data[1].x.length === 3")
    assert extended["resumeMarks"] == 1
    assert extended["train"] > done["train"] and extended["lastExample"] > done["lastExample"]
    assert_no_exception(page)
    save_screenshot(page, "train_continued")

    assert "session=" in page.url
    page.reload()
    wait_idle(page)
    page.wait_for_selector(LIVE_CHART)
    assert chart_state(page) == extended  # a reload keeps the model and its curves
    assert_no_exception(page)


@pytest.mark.parametrize("while_training", [False, True], ids=["idle", "while-training"])
def test_settings_survive_a_visit_to_another_page(page, app_url, while_training):
    """The training fields keep their values with persist_state="session"; AppTest's switch_page skips app.py.

    While a job runs, the sidebar's status fragment reruns every 2 s on the other page: those runs
    must not cost the fields either.
    """
    open_app_page(page, app_url, "train")
    set_number(page, EN["train.epochs"], 6)
    set_number(page, EN["train.batch_size_train"], 2)  # a long first epoch: still running when we come back
    if while_training:
        press(page, "train_start", then=page.locator("[data-testid='stProgress']"))
    nav = page.locator("[data-testid='stSidebarNav']")
    try:
        nav.get_by_role("link", name=EN["dataset.title"]).click()
        wait_idle(page)
        page.wait_for_timeout(5000)  # two or three sidebar refreshes
        nav.get_by_role("link", name=EN["train.title"]).click()
        expect(page.locator("[data-testid='stMain'] h1").first).to_have_text(EN["train.title"])
        expect(page.get_by_label(EN["train.epochs"], exact=True)).to_have_value("6")
        expect(page.get_by_label(EN["train.batch_size_train"], exact=True)).to_have_value("2")
    finally:
        if while_training:  # also after a failure: the job must not hold the shared server's slot
            nav.get_by_role("link", name=EN["train.title"]).click()  # wherever a failure left the page
            press(page, "train_stop", then=page.get_by_text(EN["train.stopped"].split("{")[0], exact=False))
    assert_no_exception(page)


def test_live_view_screenshot_while_training(page, app_url):
    """A frame mid-run: progress bar, speed and the growing curve (saved, not compared)."""
    open_app_page(page, app_url, "train")
    set_number(page, EN["train.epochs"], 1)
    set_number(page, EN["train.batch_size_train"], 2)
    set_number(page, EN["train.log_interval"], 1)
    page.get_by_role("button", name=EN["train.start"], exact=True).click()
    wait_for_chart(page, "el.data[0].x.length >= 20")  # train-loss points: the job is well under way
    expect(page.locator("[data-testid='stProgress']")).to_have_count(1)  # retries across fragment redraws
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    # save_screenshot waits for an idle app, which never comes while the fragment polls: a tall window instead.
    page.set_viewport_size({"width": 1280, "height": 1900})
    # Two polls after the resize: the table's canvas repaints at the new size, and the speed has two readings.
    page.wait_for_timeout(2500)
    page.screenshot(path=str(SCREENSHOTS_DIR / "train_live.png"))
    press(page, "train_stop", then=page.get_by_text(EN["train.stopped"].split("{")[0], exact=False))
    assert_no_exception(page)


# The pixel centre of one confusion-matrix cell, from Plotly's own axis mapping (x: predicted, y: true digit).
CELL_CENTRE = """(el, cell) => {
    const box = el.getBoundingClientRect(), xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
    return {x: box.left + xa._offset + xa.l2p(cell[1]), y: box.top + ya._offset + ya.l2p(cell[0])};
}"""


def test_upload_a_bad_file_then_a_checkpoint_and_pick_a_confusion_cell(page, app_url, tmp_path, trained_state):
    from mnist_core import checkpoint_bytes

    open_app_page(page, app_url, "train")
    uploader = page.locator(".st-key-train_upload [data-testid='stFileUploaderDropzoneInput']")  # not the network's JSON
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"this is not a checkpoint")
    uploader.set_input_files(str(broken))
    wait_idle(page)
    expect(page.get_by_text(EN["train.upload_failed"], exact=False)).to_be_visible()
    expect(page.get_by_text(EN["train.no_model_yet"], exact=True)).to_be_visible()  # nothing changed
    assert_no_exception(page)

    trained = tmp_path / "trained.pt"
    trained.write_bytes(checkpoint_bytes(trained_state))
    uploader.set_input_files(str(trained))
    wait_idle(page)
    expect(page.get_by_text(EN["train.upload_ok"].format(name="trained.pt"), exact=True)).to_be_visible()
    expect(page.locator(".st-key-train_confusion .js-plotly-plot")).to_have_count(1)
    wait_for_chart(page, "el.data[1].x.length === 4")  # the uploaded curves: the test before training and 3 epochs

    def pair_words(true_digit: int, predicted_digit: int) -> str:
        """The part of the gallery caption that names the pair (the counts vary)."""
        caption = EN["train.gallery_count"].format(count=0, true=true_digit, predicted=predicted_digit, shown=0)
        return caption.split(" ", 1)[1].split(";")[0]  # "test images of a 3 were read as 5"

    any_pair = re.compile(r"\d+".join(map(re.escape, re.split(r"\{\w+\}", EN["train.gallery_count"]))))
    gallery = page.get_by_text(any_pair)
    expect(gallery).to_contain_text(pair_words(4, 9))  # the page's default pair
    # Everything above the matrix has drawn, so it stays where the click aims.
    expect(page.locator(".st-key-train_grid .js-plotly-plot")).to_have_count(1)
    tables = page.get_by_test_id("stDataFrame")  # the epochs' table, and the saved checkpoints' list
    expect(tables.first).to_be_visible()
    expect(tables.last).to_be_visible()
    matrix = page.locator(".st-key-train_confusion .js-plotly-plot")
    for _ in range(3):  # Plotly picks the point under the pointer on hover, which can lag the click
        matrix.scroll_into_view_if_needed()  # a click lands only inside the window
        centre = matrix.evaluate(CELL_CENTRE, [3, 5])  # true 3, read as 5, measured where it is now
        page.mouse.move(centre["x"], centre["y"])
        page.mouse.click(centre["x"], centre["y"])
        wait_idle(page)
        if pair_words(3, 5) in gallery.inner_text():
            break
    expect(gallery).to_contain_text(pair_words(3, 5))
    assert_no_exception(page)


def press(page, key: str, then) -> None:
    """Click the page's button with this widget key while a fragment keeps rerunning, until `then` shows.

    Found by key, not by label: while a script runs, Streamlit's own header shows a "Stop" button too
    (it stops that script run, not the training). The click is repeated if nothing came of it, and
    made only while one copy of the button shows.
    """
    button = page.locator(f".st-key-{key} button")
    deadline = time.monotonic() + TRAIN_WAIT_S
    while time.monotonic() < deadline:
        if button.count() == 1:
            try:
                button.click(timeout=2000)
                then.first.wait_for(timeout=3000)
                return
            except PlaywrightError:  # the copy went away under the click, or nothing showed yet
                if then.count():
                    return
        page.wait_for_timeout(200)
    raise AssertionError(f"pressing {key!r} never showed {then}")


def test_a_second_user_waits_for_the_only_training_slot(browser):
    """Two people on a server that allows one training job: the second sees why nothing happens yet."""
    with running_app({"MNIST_MAX_TRAINING_JOBS": "1"}) as url:
        first, second = new_context(browser).new_page(), new_context(browser).new_page()
        for user in (first, second):
            open_app_page(user, url, "train")
            set_number(user, EN["train.batch_size_train"], 2)  # 3 epochs of 2,000 tiny steps: still running below
        progress = "[data-testid='stProgress']"
        press(first, "train_start", then=first.locator(progress))
        # It trains, not only starts: a Stop during its first test would end "before any step" (on a busy
        # machine that test can take longer than the second learner's steps below).
        wait_for_chart(first, "el.data[0].x.length >= 2")

        waiting = second.get_by_text(EN["train.waiting_position"].format(position=1, busy=1, slots=1), exact=True)
        press(second, "train_start", then=waiting)
        second.wait_for_timeout(2000)  # four refreshes later: still waiting, not a job's first instant
        expect(waiting).to_be_visible()
        expect(second.locator(".st-key-train_stop button")).to_be_enabled()  # not Streamlit's own header Stop

        stopped = EN["train.stopped"].split("{")[0]
        press(first, "train_stop", then=first.get_by_text(stopped, exact=False))
        expect(waiting).to_have_count(0, timeout=TRAIN_WAIT_S * 1000)  # the slot passed on
        expect(second.locator(progress)).to_have_count(1, timeout=TRAIN_WAIT_S * 1000)
        # The second job trains, not only starts: a Stop during its first test would end "before any step".
        wait_for_chart(second, "el.data[0].x.length >= 2")  # train-loss points
        press(second, "train_stop", then=second.get_by_text(stopped, exact=False))
        for user in (first, second):
            assert_no_exception(user)
            user.context.close()


def test_progress_shows_beside_the_train_button_without_scrolling(page, app_url):
    """At 1280 x 900 the live chart is below the fold once Train is pressed: the progress line sits in the
    buttons' row, where the learner's eyes are, and names the epoch, the examples and the time left."""
    open_app_page(page, app_url, "train")
    set_number(page, EN["train.batch_size_train"], 2)  # 3 epochs of 2,000 tiny steps: time to look
    steps = EN["train.steps"].format(steps=6_000, epochs=3, per_epoch=2_000, batch=2, n_train=4_000)
    expect(page.get_by_text(steps.replace("**", ""), exact=True)).to_be_visible()  # beside the epochs
    bar = page.locator("[data-testid='stProgress']")
    press(page, "train_start", then=bar)
    try:
        expect(bar).to_be_in_viewport()
        button = page.locator(".st-key-train_start button").bounding_box()
        line = bar.bounding_box()
        assert line["x"] > button["x"] + button["width"], "the progress line is not beside the Train button"
        assert line["y"] < button["y"] + button["height"] and line["y"] + line["height"] > button["y"], (
            f"the progress line ({line}) is not in the Train button's row ({button})")
        expect(bar).to_contain_text(re.compile(r"Epoch \d of 3 · [\d,]+ of 12,000 examples"))
        expect(page.locator("[data-testid='stProgress']")).to_have_count(1)  # one bar, not two views of one run
    finally:  # the job must not hold the shared server's slot
        press(page, "train_stop", then=page.get_by_text(EN["train.stopped"].split("{")[0], exact=False))
    assert_no_exception(page)


def test_a_train_pressed_in_another_tab_of_the_session_shows_here(browser):
    """Two tabs on one session link: the idle tab's watcher sees the other's job start, reruns and polls it,
    instead of writing into a place its last full run left empty (Streamlit raised in an exception box)."""
    with running_app({"MNIST_SESSION_IDLE_MINUTES": "0.2"}) as url:  # the idle tab's watcher ticks every 4 s
        context = new_context(browser)
        idle_tab = context.new_page()
        open_app_page(idle_tab, url, "train")
        busy_tab = context.new_page()
        busy_tab.goto(idle_tab.url)  # the same ?session= link
        busy_tab.wait_for_selector(".st-key-train_start button")
        wait_idle(busy_tab)
        set_number(busy_tab, EN["train.batch_size_train"], 2)  # 3 epochs of 2,000 tiny steps: still running below
        progress = "[data-testid='stProgress']"
        press(busy_tab, "train_start", then=busy_tab.locator(progress))
        expect(idle_tab.locator(progress)).to_have_count(1, timeout=60_000)  # a few of its ticks on a busy machine
        assert_no_exception(idle_tab)
        press(idle_tab, "train_stop", then=idle_tab.get_by_text(EN["train.stopped"].split("{")[0], exact=False))
        assert_no_exception(idle_tab)
        context.close()
