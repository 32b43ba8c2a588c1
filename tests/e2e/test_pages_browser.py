"""Every page in real Chromium: its title and main elements are drawn, no exception box, a screenshot saved."""

import pytest

from tests.e2e.conftest import assert_no_exception, open_app_page, save_screenshot
from ui.i18n import strings
from ui.navigation import PAGES

ENGLISH = strings("en")
CHINESE = strings("zh")


@pytest.mark.parametrize("entry", PAGES, ids=[entry.section for entry in PAGES])
def test_page_renders(page, app_url, entry):
    open_app_page(page, app_url, entry.url_path)

    assert_no_exception(page)
    assert page.locator("h1").first.inner_text().strip() == ENGLISH[entry.title_key]
    sidebar = page.locator("[data-testid='stSidebar']")
    assert ENGLISH["app.source_embedded"] in sidebar.inner_text()
    save_screenshot(page, entry.section)
