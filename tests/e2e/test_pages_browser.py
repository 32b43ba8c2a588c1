"""Every page in real Chromium: its title and main elements are drawn, no exception box, a screenshot saved;
a fresh server draws the home page before the data has loaded and fills the sidebar in by itself."""

import pytest
from playwright.sync_api import expect

from tests.e2e import conftest as harness
from tests.e2e.conftest import assert_no_exception, enter_value, open_app_page, running_app, save_screenshot, wait_idle
from tests.e2e.test_step_browser import log_trouble
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
    expect(sidebar).to_contain_text(ENGLISH["app.source_embedded"])  # the data may still be loading: it fills in
    save_screenshot(page, entry.section)


def test_deep_link_on_a_fresh_server(page):
    """A bookmarked /dataset right after a server start still gets the router (ui.navigation.ensure_router)."""
    with running_app() as url:
        open_app_page(page, url, "dataset")
        assert_no_exception(page)
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar).to_contain_text(ENGLISH["app.source_embedded"])
        assert ENGLISH["home.title"] in sidebar.inner_text()  # the router's titled navigation, not file names
        assert log_trouble(harness._server_logs[-1]) == []


def test_home_page_on_a_fresh_server_fills_its_sidebar_by_itself(page):
    """The home page is drawn while torch and the data load in the background; the sidebar's note then gives
    way to the data, device and model, with no click, and nothing in the server's log (a st.* call from the
    loading thread would log "missing ScriptRunContext")."""
    with running_app() as url:
        page.goto(url)
        expect(page.locator("[data-testid='stMain'] h1")).to_have_text(ENGLISH["app.title"])
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar).to_contain_text(ENGLISH["app.source_embedded"])
        expect(sidebar).to_contain_text(ENGLISH["app.model_none"])
        expect(sidebar).not_to_contain_text(ENGLISH["app.data_loading"])
        expect(page.locator("[data-testid='stMain'] code").first).to_contain_text("320")  # the sizes drawn last
        wait_idle(page)
        assert_no_exception(page)
        assert log_trouble(harness._server_logs[-1]) == []


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


def test_digit_box_keeps_all_digits_when_other_controls_change(page, app_url):
    """Defect: with "All digits" chosen, changing the split, count or seed blanked the Digit box (the kept-widgets
    code wrote its None option back, which Streamlit shows as no choice at all)."""
    open_app_page(page, app_url, "dataset")
    main = page.locator("[data-testid='stMain']")
    digit_box = main.locator("[data-testid='stSelectbox']").filter(has_text=ENGLISH["dataset.digit_filter"]).locator("input")
    expect(digit_box).to_have_value(ENGLISH["dataset.all_digits"])

    page.get_by_role("radio", name=ENGLISH["dataset.split_train"]).check(force=True)
    wait_idle(page)
    expect(digit_box).to_have_value(ENGLISH["dataset.all_digits"])
    enter_value(page, main.get_by_label(ENGLISH["dataset.seed"], exact=True), 3)
    expect(digit_box).to_have_value(ENGLISH["dataset.all_digits"])
    assert_no_exception(page)
