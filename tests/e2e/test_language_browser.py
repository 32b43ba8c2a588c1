"""Switching the sidebar's language to 中文 in a real browser translates every page, and the choice sticks.

The learner opens the app in English, picks 中文 in the sidebar, then walks through every page with the
sidebar's links (one browser session). Each page must show its Chinese title and one of its main
controls in Chinese, and no English title. Screenshots <page>_zh.png are saved for the README.
"""

from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, open_app_page, save_screenshot, wait_idle
from ui.i18n import strings
from ui.navigation import PAGES

ENGLISH = strings("en")
CHINESE = strings("zh")
# One main control (or heading) per page, by its locale key: a label the learner uses first.
MAIN_CONTROL = {
    "home": "home.intro",
    "dataset": "dataset.seed",
    "shapes": "shapes.n",
    "train": "train.epochs",
    "step": "step.batch_size",
    "draw": "draw.model_source",
}


def choose_language(page, current_label: str, language_name: str) -> None:
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("combobox", name=current_label, exact=True).click()  # opens the list (not its help button)
    page.get_by_role("option", name=language_name, exact=True).click()
    wait_idle(page)


def heading(page) -> str:
    return page.locator("[data-testid='stMain'] h1").first.inner_text().strip()


def test_every_page_in_chinese_after_the_switch(page, app_url):
    assert set(MAIN_CONTROL) == {entry.section for entry in PAGES}, "a page was added: name its main control"
    open_app_page(page, app_url, "")
    assert heading(page) == ENGLISH["app.title"]
    choose_language(page, ENGLISH["app.language"], CHINESE["meta.name"])
    expect(page.locator("[data-testid='stMain'] h1").first).to_have_text(CHINESE["app.title"])

    for entry in PAGES:
        nav = page.locator("[data-testid='stSidebarNav']")
        nav.get_by_role("link", name=CHINESE[entry.title_key], exact=True).click()
        wait_idle(page)
        assert_no_exception(page)
        expected = CHINESE["app.title"] if entry.section == "home" else CHINESE[entry.title_key]
        expect(page.locator("[data-testid='stMain'] h1").first).to_have_text(expected)
        main = page.locator("[data-testid='stMain']")
        control = CHINESE[MAIN_CONTROL[entry.section]]
        expect(main).to_contain_text(control)  # a widget's label appears once its code has loaded
        assert ENGLISH[entry.title_key] not in nav.inner_text(), "navigation still in English"
        save_screenshot(page, f"{entry.section}_zh")

    # Back to English in the same session: the switch works both ways.
    choose_language(page, CHINESE["app.language"], ENGLISH["meta.name"])
    expect(page.locator("[data-testid='stMain'] h1").first).to_have_text(ENGLISH["draw.title"])
