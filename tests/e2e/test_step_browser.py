"""The step-by-step page in real Chromium, in English and Chinese: every stage's button in order, each result
staying on screen; then the Draw page's saliency overlay. The server's own log must stay free of warnings."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import conftest as harness
from tests.e2e.conftest import assert_no_exception, open_app_page, running_app, save_screenshot, wait_idle
from tests.e2e.test_draw_browser import SEVEN, draw_stroke, train_quick_model
from ui.i18n import strings

REPEAT_STEPS = 5  # the repeat stage's N: 5 steps per momentum keeps the test quick on 2 busy cores
SAME_SEED_RUNS = 2
# What Streamlit or Python write to the server's stderr when something is wrong (deprecations, widget misuse,
# exceptions); a clean run writes none of these.
TROUBLE = re.compile(r"Traceback|Warning|WARNING|Error|ERROR|deprecat", re.IGNORECASE)


@pytest.fixture(scope="module")
def server():
    """A server of this module's own, so its log holds only what these pages made it write."""
    with running_app() as url:
        yield url, harness._server_logs[-1]


def log_trouble(log_path) -> list[str]:
    return [line for line in log_path.read_text(errors="replace").splitlines() if TROUBLE.search(line)]


def plain(text: str) -> str:
    """A locale string as the browser shows it: Markdown's code and bold marks are not text."""
    return text.replace("`", "").replace("**", "")


def click_and_wait(page, name: str) -> None:
    button = page.get_by_role("button", name=name)  # the icon adds its own text to the name
    button.scroll_into_view_if_needed()
    button.click()
    wait_idle(page)
    assert_no_exception(page)


def set_slider(page, label: str, value: int, minimum: int) -> None:
    """Move a Streamlit slider with the keyboard, as a person can: Home, then the arrow keys."""
    thumb = page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
    thumb.scroll_into_view_if_needed()
    thumb.focus()
    thumb.press("Home")
    for _ in range(value - minimum):
        thumb.press("ArrowRight")
    wait_idle(page)
    expect(thumb).to_have_attribute("aria-valuetext", str(value))


def walk_every_stage(page, texts: dict[str, str]) -> None:
    set_slider(page, texts["step.repeat_steps"], REPEAT_STEPS, 1)
    click_and_wait(page, texts["step.forward_button"])
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)  # the layer shapes
    click_and_wait(page, texts["step.scores_button"])
    click_and_wait(page, texts["step.loss_button"])
    click_and_wait(page, texts["step.backward_button"])
    page.get_by_test_id("stCheckbox").filter(has_text=plain(texts["step.skip_zero_grad"])).locator("label").click()
    wait_idle(page)
    click_and_wait(page, texts["step.backward_button"])  # gradients pile up: the page says why
    expect(page.get_by_test_id("stAlert").filter(has_text=plain(texts["step.backward_piled"])[:12])).to_have_count(1)
    click_and_wait(page, texts["step.step_button"])
    click_and_wait(page, texts["step.repeat_button"].format(steps=REPEAT_STEPS))
    click_and_wait(page, texts["step.modes_button"].format(passes=20))
    click_and_wait(page, plain(texts["step.no_grad_button"]))
    seed = texts["step.seed_same"].format(seed=1)
    for _ in range(SAME_SEED_RUNS):
        click_and_wait(page, seed)
    click_and_wait(page, texts["step.seed_other"])
    # Every stage's result is still there after the last one ran.
    expect(page.get_by_text(texts["step.seed_identical"].format(count=SAME_SEED_RUNS))).to_be_visible()
    for title in (texts["step.curves_title"], texts["step.mode_title"].format(passes=20)):
        expect(page.get_by_test_id("stPlotlyChart").filter(has_text=title)).to_have_count(1)
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(6)  # scores, gradient norms, conv1's weights and gradients, curves, modes
    expect(page.get_by_test_id("stMetric")).to_have_count(4)  # hand vs F.nll_loss, loss before vs after


@pytest.mark.parametrize("locale, language, screenshot", [("en-US", "en", "step"), ("zh-CN", "zh", "step_zh")])
def test_every_stage_in_order_with_screenshots(server, new_page, locale, language, screenshot):
    url, log_path = server
    page = new_page(locale=locale)
    open_app_page(page, url, "step")
    texts = strings(language)
    expect(page.get_by_role("heading", name=texts["step.title"])).to_be_visible()
    walk_every_stage(page, texts)
    save_screenshot(page, screenshot)
    assert log_trouble(log_path) == []


def test_draw_page_saliency_overlay(server, new_page):
    url, log_path = server
    page = new_page()
    texts = strings("en")
    open_app_page(page, url, "draw")
    train_quick_model(page)
    draw_stroke(page, SEVEN)
    heading = page.get_by_text(texts["draw.saliency_heading"], exact=True)
    heading.wait_for()
    wait_idle(page)
    assert_no_exception(page)
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text=texts["draw.saliency_toward"].split(" ")[0])
    expect(chart).to_have_count(1)
    box = page.get_by_test_id("stSelectbox").filter(has_text=texts["draw.saliency_other"])
    box.scroll_into_view_if_needed()
    box.click()
    page.get_by_role("option", name="4", exact=True).click()
    wait_idle(page)
    assert_no_exception(page)
    expect(chart).to_contain_text(texts["draw.saliency_toward"].format(digit=4, percent="")[:-1])
    heading.scroll_into_view_if_needed()
    save_screenshot(page, "draw_saliency")
    assert log_trouble(log_path) == []
