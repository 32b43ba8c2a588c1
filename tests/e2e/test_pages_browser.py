"""Every page in real Chromium: its title and main elements are drawn, no exception box, a screenshot saved."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, enter_value, open_app_page, running_app, save_screenshot, wait_idle
from ui.i18n import strings
from ui.navigation import PAGES

ENGLISH = strings("en")
CHINESE = strings("zh")


@pytest.mark.parametrize("entry", PAGES, ids=[entry.section for entry in PAGES])
def test_page_renders(page, app_url, entry):
    open_app_page(page, app_url, entry.url_path)

    assert_no_exception(page)
    heading_key = "app.title" if entry.section == "home" else entry.title_key
    assert page.locator("h1").first.inner_text().strip() == ENGLISH[heading_key]
    sidebar = page.locator("[data-testid='stSidebar']")
    assert ENGLISH["app.source_embedded"] in sidebar.inner_text()
    save_screenshot(page, entry.section)


def test_deep_link_on_a_fresh_server(page):
    """A bookmarked /dataset right after a server start still gets the router (ui.navigation.ensure_router)."""
    with running_app() as url:
        open_app_page(page, url, "dataset")
        assert_no_exception(page)
        sidebar = page.locator("[data-testid='stSidebar']").inner_text()
        assert ENGLISH["app.source_embedded"] in sidebar
        assert ENGLISH["home.title"] in sidebar  # the router's titled navigation, not file names


def test_chinese_browser_gets_chinese(new_page, app_url):
    page = new_page(locale="zh-CN")
    open_app_page(page, app_url, "dataset")

    assert_no_exception(page)
    assert page.locator("h1").first.inner_text().strip() == CHINESE["dataset.title"]
    # The captions' code loads on first use in a fresh browser, so expect() waits for them.
    expect(page.get_by_test_id("stImageCaption").first).to_contain_text(CHINESE["dataset.ground_truth"].format(label=""))
    save_screenshot(page, "dataset_zh")


def test_dataset_controls_in_the_browser(page, app_url):
    open_app_page(page, app_url, "dataset")
    main = page.locator("[data-testid='stMain']")
    captions = main.locator("[data-testid='stImageCaption']")
    expect(captions).to_have_count(6)  # expect() retries until the images are in
    expect(main.locator(".js-plotly-plot")).to_have_count(2)  # class distribution and the enlarged digit
    expect(main.locator("[data-testid='stImageContainer'] img[src$='.png']")).to_have_count(6)
    first_grid = captions.all_inner_texts()
    assert all(text.startswith("Ground truth: ") for text in first_grid)

    page.get_by_role("radio", name=ENGLISH["dataset.split_train"]).check(force=True)
    wait_idle(page)
    seed_box = main.get_by_label(ENGLISH["dataset.seed"], exact=True)
    enter_value(page, seed_box, 7)

    assert_no_exception(page)
    expect(seed_box).to_have_value("7")
    expect(captions).to_have_count(6)
    expect(captions).not_to_have_text(first_grid)  # a new sample, not the first grid kept on screen
