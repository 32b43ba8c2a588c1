"""The drawing page in real Chromium: train a quick model on the page, draw a 7 with the mouse, read it, clear it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, open_app_page, save_screenshot, wait_idle
from ui.i18n import strings

EN = strings("en")
TRAINING_TIMEOUT_MS = 600_000  # one epoch on the embedded digits, on 2 CPU cores shared with other work
PREDICTION = ".predicted-digit"
PROBABILITY_CHART = f"[data-testid='stPlotlyChart']:has-text('{EN['draw.probabilities_title']}')"
SEVEN = [(0.25, 0.2), (0.45, 0.2), (0.65, 0.2), (0.75, 0.2), (0.68, 0.4), (0.6, 0.6), (0.52, 0.85)]  # canvas fractions


def draw_stroke(page, points) -> None:
    """Press, drag through the points and release, as a person does with the mouse."""
    canvas = page.locator("canvas.upper-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def train_quick_model(page) -> None:
    page.get_by_role("button", name=EN["draw.quick_train"]).click()
    no_model = page.get_by_text(EN["draw.no_model"].split("**")[1])
    no_model.wait_for(state="detached", timeout=TRAINING_TIMEOUT_MS)  # the offer goes once the model exists
    wait_idle(page)
    assert page.get_by_role("button", name=EN["draw.quick_train"]).count() == 0


def test_draw_a_digit_read_it_and_clear_it(page, app_url):
    open_app_page(page, app_url, "draw")
    assert_no_exception(page)
    expect(page.get_by_text(EN["draw.waiting_draw"])).to_be_visible()
    train_quick_model(page)

    draw_stroke(page, SEVEN)
    page.locator(PREDICTION).wait_for()  # the canvas sends its image after a short debounce
    wait_idle(page)
    assert_no_exception(page)
    digit = page.locator(PREDICTION).inner_text().strip()
    assert re.fullmatch(r"[0-9]", digit)
    # Plotly draws in the browser after the script run ends (its code loads on first use), so wait for it.
    expect(page.locator(PROBABILITY_CHART)).to_have_count(1)
    expect(page.get_by_text(EN["draw.sees_heading"], exact=True)).to_be_visible()
    page.get_by_test_id("stCheckbox").get_by_text(EN["draw.compare_naive"], exact=True).click()
    wait_idle(page)
    expect(page.get_by_text(EN["draw.step_naive"], exact=True)).to_be_visible()
    save_screenshot(page, "draw_prediction")

    page.get_by_role("button", name=EN["draw.clear"]).click()
    wait_idle(page)
    assert_no_exception(page)
    expect(page.locator(PREDICTION)).to_have_count(0)
    expect(page.locator(PROBABILITY_CHART)).to_have_count(0)
    expect(page.get_by_text(EN["draw.waiting_draw"])).to_be_visible()
    save_screenshot(page, "draw_cleared")

    # The canvas's own toolbar bin empties the drawing too: an empty image arrives, reported as blank.
    draw_stroke(page, SEVEN)
    page.locator(PREDICTION).wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Reset canvas & history").click()
    page.get_by_text(EN["draw.blank"]).wait_for()
    wait_idle(page)
    expect(page.locator(PREDICTION)).to_have_count(0)
    assert_no_exception(page)
