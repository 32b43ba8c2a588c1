"""The dataset page in real Chromium, once the session has a model: each sample shows what it reads."""

from __future__ import annotations

from playwright.sync_api import expect

from mnist_core.samples import MIN_SAMPLES
from tests.e2e.conftest import assert_no_exception, open_app_page, save_screenshot, wait_idle
from ui.i18n import strings

EN = strings("en")
SHOWN = 16  # two rows of the grid: among them, the tutorial net of tests/conftest.py reads some wrong


def test_a_loaded_model_reads_every_sample_and_its_mistakes_are_marked(page, app_url, tmp_path, trained_state):
    from mnist_core import checkpoint_bytes

    open_app_page(page, app_url, "dataset")
    expect(page.get_by_text(EN["dataset.predictions_hint"], exact=True)).to_be_visible()

    open_app_page(page, app_url, "train")
    trained = tmp_path / "trained.pt"
    trained.write_bytes(checkpoint_bytes(trained_state))
    page.locator(".st-key-train_upload [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(trained))
    wait_idle(page)
    expect(page.get_by_text(EN["train.upload_ok"].format(name="trained.pt"), exact=True)).to_be_visible()

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=EN["dataset.title"]).click()
    wait_idle(page)
    thumb = page.get_by_role("slider", name=EN["dataset.count"])
    thumb.focus()
    for _ in range(SHOWN - MIN_SAMPLES):
        thumb.press("ArrowRight")
    wait_idle(page)
    right_word, wrong_word = (EN[f"dataset.predicted_{kind}"].split("{")[0] for kind in ("right", "wrong"))
    verdicts = page.locator("[data-testid='stMarkdownContainer']").filter(has_text="read as")
    expect(verdicts).to_have_count(SHOWN)
    wrong = verdicts.filter(has_text=wrong_word)
    assert 0 < wrong.count() < SHOWN
    assert verdicts.filter(has_text=right_word).count() + wrong.count() == SHOWN
    # colour as well as the mark: a wrong reading is red, a right one is not
    red = wrong.first.locator("span").first.evaluate("el => getComputedStyle(el).color")
    green = verdicts.filter(has_text=right_word).first.locator("span").first.evaluate(
        "el => getComputedStyle(el).color")
    assert red != green
    assert_no_exception(page)
    expect(page.locator(".js-plotly-plot")).to_have_count(2)  # the class counts and the enlarged digit, drawn
    save_screenshot(page, "dataset_predictions")
