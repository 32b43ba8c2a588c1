"""The shape page in real Chromium: typed numbers reach the app and the result, formula and picture follow."""

from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, enter_value, open_app_page, save_screenshot, wait_idle
from ui.i18n import strings

ENGLISH = strings("en")
CHINESE = strings("zh")


def number_input(page, label: str):
    return page.locator("[data-testid='stNumberInput']").filter(has_text=label).locator("input").first


def type_number(page, label: str, value: int) -> None:
    enter_value(page, number_input(page, label), value)


def expect_output_size(page, size: str) -> None:
    # expect() retries: until the rerun replaces it, the page still shows the last run's metric.
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text(size)


def test_typed_stride_updates_the_result_and_the_picture(page, app_url):
    open_app_page(page, app_url, "shapes")
    assert_no_exception(page)
    expect_output_size(page, "24 × 24")
    assert ENGLISH["shapes.pytorch_agrees"] in " ".join(page.locator("[data-testid='stAlert']").all_inner_texts())

    type_number(page, ENGLISH["shapes.s"], 2)
    assert_no_exception(page)
    expect_output_size(page, "12 × 12")
    alerts = page.locator("[data-testid='stAlert']")
    expect(alerts.filter(has_text="23 / 2 is not exact (remainder 1)")).to_have_count(1)
    expect(alerts.filter(has_text=ENGLISH["shapes.pytorch_agrees"])).to_have_count(1)
    expect(page.locator("[data-testid='stMarkdownContainer'] .katex").first).to_contain_text("11.5")
    save_screenshot(page, "shapes_flooring")

    # a small grid, with padding and dilation, so the picture shows all of them
    type_number(page, ENGLISH["shapes.n"], 11)
    type_number(page, ENGLISH["shapes.f"], 3)
    type_number(page, ENGLISH["shapes.d"], 2)
    page.locator("[data-testid='stRadio']").filter(has_text=ENGLISH["shapes.preset"]).get_by_text(
        ENGLISH["shapes.preset_custom"], exact=True
    ).click()
    wait_idle(page)
    type_number(page, ENGLISH["shapes.p"], 1)
    expect_output_size(page, "5 × 5")  # floor((11 + 2 - 2 * 2 - 1) / 2) + 1
    chart = page.locator("[data-testid='stPlotlyChart']").first
    expect(chart).to_contain_text("Output: 5 × 5, cell (row 0, column 0)")  # Plotly redraws after the run
    thumb = page.get_by_role("slider", name=ENGLISH["shapes.picture_position"])
    thumb.focus()
    for _ in range(2):
        thumb.press("ArrowRight")
    wait_idle(page)
    chart.scroll_into_view_if_needed()
    expect(chart).to_contain_text("Output: 5 × 5, cell (row 0, column 2)")
    expect(chart).to_contain_text("stride 2")
    assert_no_exception(page)
    save_screenshot(page, "shapes_picture")


def test_out_of_range_numbers_are_refused_by_name_and_the_old_answer_goes(page, app_url):
    """Kernel 99 or input size 0 used to turn the box red while the page kept the old answer, naming no range;
    the server also logged a Streamlit warning for shapes_n (the harness fails any test whose server log has one)."""
    open_app_page(page, app_url, "shapes")
    expect_output_size(page, "24 × 24")
    type_number(page, ENGLISH["shapes.f"], 99)
    errors = page.locator("[data-testid='stAlertContentError']")
    expect(errors.filter(has_text=ENGLISH["shapes.out_of_range"].format(
        field=ENGLISH["shapes.f"], low=1, high=31, value=99))).to_have_count(1)
    expect(page.locator("[data-testid='stMetric']").filter(has_text=ENGLISH["shapes.output_size"])).to_have_count(0)
    expect(page.get_by_text(ENGLISH["shapes.fix_numbers"], exact=True)).to_be_visible()
    expect(number_input(page, ENGLISH["shapes.f"])).to_have_value("99")  # kept as typed, not silently replaced

    type_number(page, ENGLISH["shapes.n"], 0)
    expect(errors.filter(has_text=ENGLISH["shapes.out_of_range"].format(
        field=ENGLISH["shapes.n"], low=1, high=512, value=0))).to_have_count(1)
    save_screenshot(page, "shapes_out_of_range")

    type_number(page, ENGLISH["shapes.f"], 5)
    type_number(page, ENGLISH["shapes.n"], 28)
    expect_output_size(page, "24 × 24")
    expect(errors.filter(has_text=ENGLISH["shapes.out_of_range_heading"])).to_have_count(0)
    assert_no_exception(page)


def test_impossible_layer_shows_the_rule_in_chinese(new_page, app_url):
    page = new_page(locale="zh-CN")
    open_app_page(page, app_url, "shapes")
    assert page.locator("h1").first.inner_text().strip() == CHINESE["shapes.title"]
    type_number(page, CHINESE["shapes.n"], 5)
    type_number(page, CHINESE["shapes.f"], 7)
    assert_no_exception(page)
    errors = page.locator("[data-testid='stAlertContentError']")
    expect(errors.filter(has_text="无法构成的层：卷积核 7 大于填充后的输入 5。")).to_have_count(1)
    # no output size for a layer that cannot exist (the network editor's totals further down are metrics too)
    expect(page.locator("[data-testid='stMetric']").filter(has_text=CHINESE["shapes.output_size"])).to_have_count(0)
    save_screenshot(page, "shapes_impossible_zh")


def test_typed_numbers_survive_a_visit_to_another_page(page, app_url):
    open_app_page(page, app_url, "shapes")
    type_number(page, ENGLISH["shapes.s"], 2)
    expect_output_size(page, "12 × 12")

    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_role("link", name=ENGLISH["dataset.title"]).click()
    wait_idle(page)
    nav.get_by_role("link", name=ENGLISH["shapes.title"]).click()
    wait_idle(page)

    expect(page.locator("[data-testid='stMain'] h1").first).to_have_text(ENGLISH["shapes.title"])
    expect(number_input(page, ENGLISH["shapes.s"])).to_have_value("2")  # expect() retries while the page draws
    expect_output_size(page, "12 × 12")
    assert_no_exception(page)


def test_last_window_position_then_a_smaller_layer_raises_nothing(page, app_url):
    """The position slider's range shrinks when the layer changes; a kept old position must not break it."""
    open_app_page(page, app_url, "shapes")
    thumb = page.get_by_role("slider", name=ENGLISH["shapes.picture_position"])
    thumb.focus()
    thumb.press("End")  # the last of 24 x 24 positions
    wait_idle(page)
    page.locator("[data-testid='stRadio']").filter(has_text=ENGLISH["shapes.layer_kind"]).get_by_text(
        ENGLISH["shapes.kind_pool"], exact=True
    ).click()
    wait_idle(page)
    assert_no_exception(page)
    expect_output_size(page, "14 × 14")

    nav = page.locator("[data-testid='stSidebarNav']")
    nav.get_by_role("link", name=ENGLISH["home.title"]).click()
    wait_idle(page)
    nav.get_by_role("link", name=ENGLISH["shapes.title"]).click()
    wait_idle(page)
    assert_no_exception(page)
