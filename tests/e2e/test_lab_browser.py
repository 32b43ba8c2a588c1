"""The network lab in real Chromium: train a tutorial run, pick `modern`, add a LeakyReLU row, train it for an
epoch while the live chart grows, compare the two runs, then read a drawn digit with the custom network.
Screenshots docs/screenshots/lab_*.png, in English and Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from mnist_core.training.presets import PRESETS
from tests.e2e.conftest import assert_no_exception, enter_value, open_app_page, save_screenshot, wait_idle
from tests.e2e.test_draw_browser import PREDICTION, SEVEN, draw_stroke
from tests.e2e.test_train_browser import wait_for_chart
from ui.i18n import strings

EN, ZH = strings("en"), strings("zh")
TRAIN_WAIT_S = 400  # one epoch of `modern` with augmentation on the embedded digits, 2 busy cores
PICK_TRIES, PICK_WAIT_MS = 5, 5_000
ROW = "[class*='st-key-lab_train_'][class*='_row']"  # one bordered container per editor row


def pick(page, label: str, option: str) -> None:
    """Choose option in the selectbox with this label."""
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(PICK_TRIES):  # a fragment's rerun (the sidebar's status) can close the list before the click
        page.get_by_label(label, exact=True).click()  # opens the selectbox's list
        try:
            choice.click(timeout=PICK_WAIT_MS)
            break
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
    else:
        pytest.fail(f"the option {option!r} of {label!r} never showed")
    wait_idle(page)


def click(page, key: str) -> None:
    """Click the button with this widget key once the page shows one copy of it (a rerun briefly shows two)."""
    button = page.locator(f".st-key-{key}").get_by_role("button").filter(visible=True)
    expect(button).to_have_count(1)
    button.click()


def set_epochs(page, language=EN) -> None:
    enter_value(page, page.get_by_label(language["train.epochs"], exact=True), 1)


def train_one_epoch(page) -> None:
    click(page, "train_start")
    finished = page.get_by_text(EN["train.finished"].format(epochs=1), exact=True)
    finished.wait_for(timeout=TRAIN_WAIT_S * 1000)
    wait_idle(page)


def test_modern_with_leaky_relu_trains_compares_and_reads_a_drawing(page, app_url):
    open_app_page(page, app_url, "train")
    assert_no_exception(page)
    set_epochs(page)
    train_one_epoch(page)  # the tutorial run the comparison will show beside the custom one

    pick(page, EN["lab.preset"], EN["lab.preset_modern"])
    expect(page.get_by_text(EN["lab.purpose_modern"])).to_be_visible()
    modern_rows = len(PRESETS["modern"].spec["layers"])
    expect(page.locator(ROW)).to_have_count(modern_rows)
    set_epochs(page)  # the preset asks for 10
    click(page, "lab_train_add")  # the new layer's type starts as LeakyReLU
    wait_idle(page)
    expect(page.locator(ROW)).to_have_count(modern_rows + 1)
    expect(page.locator(ROW).nth(modern_rows - 1)).to_contain_text("LeakyReLU")
    expect(page.locator(".st-key-lab_train_preset_choice input")).to_have_value(EN["lab.preset_custom"])
    assert_no_exception(page)
    save_screenshot(page, "lab_network")

    click(page, "train_start")
    live = wait_for_chart(page, "el.data[0].x.length >= 2")  # train-loss points while the epoch runs
    assert live["test"] >= 1
    save_screenshot(page, "lab_live")
    page.get_by_text(EN["train.finished"].format(epochs=1), exact=True).wait_for(timeout=TRAIN_WAIT_S * 1000)
    wait_idle(page)
    assert_no_exception(page)

    compare = page.locator(".st-key-train_compare_chart .js-plotly-plot")
    compare.scroll_into_view_if_needed()
    expect(compare).to_have_count(1)
    names = compare.evaluate("el => el.data.map(trace => trace.name)")
    assert sum(name.startswith(EN["train.chart_accuracy"]) for name in names) == 2, names
    first = page.locator(".st-key-train_compare_first input").input_value()
    second = page.locator(".st-key-train_compare_second input").input_value()
    assert re.match(r"Run 1: tutorial, 21,840 parameters, SGD", first), first
    assert re.match(r"Run 2: custom, [\d,]+ parameters, AdamW", second), second
    expect(page.get_by_text(EN["lab.compare_table_note"].format(mark="≠"))).to_be_visible()
    save_screenshot(page, "lab_compare")

    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_role("link", name=EN["draw.title"]).click()
    expect(page.locator("[data-testid='stMain'] h1").first).to_have_text(EN["draw.title"])
    wait_idle(page)
    draw_stroke(page, SEVEN)
    page.locator(PREDICTION).wait_for(timeout=60_000)
    wait_idle(page)
    assert re.fullmatch(r"[0-9]", page.locator(PREDICTION).inner_text().strip())
    # The custom network's conv layers, each titled with its map count: conv1's 16 maps of 28 x 28.
    expect(page.get_by_text("conv1: 16 feature maps of 28 x 28").first).to_be_attached()
    assert_no_exception(page)
    save_screenshot(page, "lab_draw")


def test_editor_lessons_and_refusal_in_chinese(new_page, app_url):
    page = new_page(locale="zh-CN")
    open_app_page(page, app_url, "train")
    expect(page.locator("[data-testid='stMain'] h1").first).to_have_text(ZH["train.title"])
    pick(page, ZH["lab.preset"], ZH["lab.preset_modern"])
    page.locator(".st-key-lab_train_add_at input").fill("18")  # after Flatten: a conv layer there must be refused
    page.locator(".st-key-lab_train_add_at input").press("Enter")
    wait_idle(page)
    pick(page, ZH["lab.add_type"], "Conv2d")
    click(page, "lab_train_add")
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"第 18 层（Conv2d）：这一层作用于图像")).first).to_be_visible()
    expect(page.locator(".st-key-train_start button")).to_be_disabled()
    lesson = page.locator("[class*='st-key-lab_train_'][class*='_lesson'] summary").nth(1)  # BatchNorm2d's
    lesson.scroll_into_view_if_needed()
    lesson.click()
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"它学习 32 个数")).first).to_be_visible()  # BatchNorm2d(16): 2 x 16
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()  # the per-channel statistics
    assert_no_exception(page)
    page.locator(".st-key-lab_train_preset_choice").scroll_into_view_if_needed()
    save_screenshot(page, "lab_zh")
