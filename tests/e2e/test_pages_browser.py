"""Every page in real Chromium: its title and main elements are drawn, no exception box, a screenshot saved."""

import pytest

from tests.e2e.conftest import assert_no_exception, open_app_page, running_app, save_screenshot
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


@pytest.mark.xfail(
    strict=True,
    reason="Streamlit runs pages/*.py as legacy pages until app.py has called st.navigation once: "
    "a deep link on a fresh server shows the page without the router's sidebar. Renaming pages/ fixes it.",
)
def test_deep_link_on_a_fresh_server(page):
    with running_app() as url:
        open_app_page(page, url, "dataset")
        assert_no_exception(page)
        sidebar = page.locator("[data-testid='stSidebar']").inner_text()
        assert ENGLISH["app.source_embedded"] in sidebar
        assert ENGLISH["home.title"] in sidebar  # the router's titled navigation, not file names
