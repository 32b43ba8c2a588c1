"""The shape page driven through its widgets, in English and Chinese (streamlit.testing AppTest)."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.network.shapes import conv_output_steps, pool_output_steps
from tests.apptest.app import open_page
from tests.apptest.streamlit_log import messages, streamlit_warnings
from ui.i18n import LANGUAGE_KEY
from ui.shapes_figures import DROPPED, HOLE, INPUT, PADDING, TAP, cell_kinds


def open_shapes(language: str = "en") -> AppTest:
    return open_page("pages/shapes.py", language)


def set_numbers(app: AppTest, **values) -> AppTest:
    for key, value in values.items():
        app.number_input(key=key).set_value(value)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def output_size(app: AppTest) -> str:
    return app.metric[0].value


@pytest.fixture(scope="module")
def app():
    """One English session reused by the tests that only read the first page load."""
    return open_shapes()


def test_defaults_are_the_seed_conv1(app):
    assert output_size(app) == "24 × 24"
    assert any("10 × 24 × 24" in text for text in texts(app.markdown))
    assert "PyTorch agrees: a real forward pass gives the same size." in texts(app.success)
    assert any("torch.Size([1, 1, 24, 24])" in text for text in texts(app.code))
    parameters = app.table[0].value
    assert parameters.loc["Total", "Count"] == 260
    assert parameters.loc["Kernels per filter", "Count"] == 1
    assert parameters.loc["Weights per filter", "Count"] == 25


def test_seed_table_ends_in_320(app):
    table = app.dataframe[0].value
    assert table["Layer"].tolist() == ["input", "conv1", "pool1", "relu1", "conv2", "drop2d1", "pool2", "relu2",
                                       "flatten1", "fc1", "relu3", "drop1", "fc2"]
    assert table["Output shape"].tolist() == [
        "1 × 28 × 28", "10 × 24 × 24", "10 × 12 × 12", "10 × 12 × 12", "20 × 8 × 8", "20 × 8 × 8", "20 × 4 × 4",
        "20 × 4 × 4", "320", "50", "50", "50", "10"
    ]
    assert table["Parameters"].tolist() == [0, 260, 0, 0, 5020, 0, 0, 0, 0, 16050, 0, 0, 510]
    assert any("20 × 4 × 4 = **320**" in text for text in texts(app.markdown))


def test_flooring_case_28_5_stride_2_gives_12():
    app = set_numbers(open_shapes(), shapes_conv_s=2)
    assert output_size(app) == "12 × 12"
    formula = app.latex[0].value
    for step in (r"\frac{28 + 2 \cdot 0 - 5}{2}", r"\frac{23}{2}", "11.5", "= 11 + 1 = 12"):
        assert step in formula, step
    dropped = texts(app.info)
    assert any("23 / 2 is not exact (remainder 1)" in text and "**1 input row(s)" in text for text in dropped), dropped
    assert "PyTorch agrees: a real forward pass gives the same size." in texts(app.success)
    assert any("torch.Size([1, 1, 12, 12])" in text for text in texts(app.code))


def test_impossible_conv_names_the_rule_without_a_traceback():
    app = set_numbers(open_shapes(), shapes_n=5, shapes_conv_f=7)
    assert "Impossible layer: kernel 7 is larger than the padded input 5." in texts(app.error)
    # no size is shown for a layer that cannot exist (the network editor's totals below are metrics too)
    assert "Output size o × o" not in [metric.label for metric in app.metric]
    assert any("PyTorch refuses this layer too" in text for text in texts(app.markdown))
    assert any("Kernel size can't be greater than actual input size" in text for text in texts(app.code))
    assert "Choose a possible layer to see its sliding window." in texts(app.info)
    assert not app.get("plotly_chart")


def test_out_of_range_numbers_are_refused_with_their_ranges_and_no_old_answer():
    """Kernel 99 or input size 0 used to turn the box red while the old answer stayed on the page."""
    app = set_numbers(open_shapes(), shapes_conv_f=99)
    assert ("**The calculator takes these numbers only within their ranges:** Kernel size f must be a whole number "
            "from 1 to 31; 99 is outside that range.") in texts(app.error)
    assert "Output size o × o" not in [metric.label for metric in app.metric]  # no stale 24 × 24
    assert not app.latex and not app.table and not app.get("plotly_chart")
    assert "No answer until every number on the left is within its range." in texts(app.info)
    assert "Choose a possible layer to see its sliding window." in texts(app.info)

    app = set_numbers(app, shapes_n=0, shapes_conv_d=9)  # every bad number is named, each with its range
    refusal = next(text for text in texts(app.error) if "within their ranges" in text)
    for reason in ("Input size n must be a whole number from 1 to 512; 0 is outside that range.",
                   "Kernel size f must be a whole number from 1 to 31; 99 is outside that range.",
                   "Dilation d must be a whole number from 1 to 8; 9 is outside that range."):
        assert f"- {reason}" in refusal, refusal

    app = set_numbers(app, shapes_n=28, shapes_conv_f=5, shapes_conv_d=1)
    assert output_size(app) == "24 × 24" and not app.error


def test_out_of_range_pooling_padding_and_network_input_are_refused():
    app = open_shapes()
    app.radio(key="shapes_kind").set_value("pool").run()
    app.radio(key="shapes_pool_preset").set_value("custom").run()
    app = set_numbers(app, shapes_pool_p=40, shapes_lab_input_size=0)
    errors = texts(app.error)
    assert any("Padding p (zeros per side) must be a whole number from 0 to 31; 40 is outside that range." in text
               for text in errors), errors
    assert any("Input size (pixels a side) must be a whole number from 1 to 512; 0 is outside that range." in text
               for text in errors), errors
    assert not network_results(app)  # no layer table for an input that cannot be


def test_chinese_refusal_names_the_range():
    app = set_numbers(open_shapes("zh"), shapes_conv_f=99)
    assert any("卷积核大小 f 必须是 1 到 31 之间的整数；99 超出了这个范围。" in text for text in texts(app.error))


def test_number_boxes_make_streamlit_log_no_warning():
    """The server log printed 'widget with key shapes_n was created with a default value but also had its value
    set via the Session State API' (a value= beside a write to the same key), with a stack trace."""
    with streamlit_warnings() as logged:
        app = set_numbers(open_shapes(), shapes_conv_s=2)
        app.radio(key="shapes_kind").set_value("pool").run()
        app.switch_page("pages/home.py").run()
        app.switch_page("pages/shapes.py").run()
        app.radio(key="shapes_kind").set_value("conv").run()
    assert not app.exception, [e.value for e in app.exception]
    assert not logged, messages(logged)
    assert app.number_input(key="shapes_conv_s").value == 2  # kept across the page switch


def test_padding_makes_the_impossible_layer_possible():
    app = set_numbers(open_shapes(), shapes_n=5, shapes_conv_f=7)
    app.radio(key="shapes_conv_preset").set_value("custom").run()
    app = set_numbers(app, shapes_conv_p=1)
    assert output_size(app) == "1 × 1"
    assert not app.error


def test_same_preset_keeps_the_size_for_an_odd_kernel():
    app = open_shapes()
    app.radio(key="shapes_conv_preset").set_value("same").run()
    assert output_size(app) == "28 × 28"
    assert any("**p = 2**" in text for text in texts(app.info))


def test_same_preset_explains_the_even_kernel():
    app = set_numbers(open_shapes(), shapes_conv_f=4)
    app.radio(key="shapes_conv_preset").set_value("same").run()
    warning = " ".join(texts(app.warning))
    assert "removes **3** cells" in warning and "1 on the left and top, 2 on the right and bottom" in warning
    assert output_size(app) == "27 × 27"  # p = 1: one short, as the warning says


def test_same_preset_warns_about_stride():
    app = set_numbers(open_shapes(), shapes_conv_s=2)
    app.radio(key="shapes_conv_preset").set_value("same").run()
    assert any("only at stride 1" in text for text in texts(app.warning))


def test_parameter_count_for_conv2():
    app = set_numbers(open_shapes(), shapes_n=12, shapes_in_channels=10, shapes_out_channels=20)
    parameters = app.table[0].value
    assert parameters.loc["Kernels per filter", "Count"] == 10
    assert parameters.loc["Weights per filter", "Count"] == 250
    assert parameters.loc["Filters", "Count"] == 20
    assert parameters.loc["Total", "Count"] == 5020
    assert any("20 × 8 × 8" in text for text in texts(app.markdown))


def test_max_pooling_and_its_padding_rule():
    app = open_shapes()
    app.radio(key="shapes_kind").set_value("pool").run()
    assert output_size(app) == "14 × 14"
    assert not app.table  # pooling has nothing to learn
    app.radio(key="shapes_pool_preset").set_value("custom").run()
    app = set_numbers(app, shapes_pool_p=2)
    assert "Impossible layer: padding 2 is more than half the kernel 2: max pooling pads at most 1." in texts(app.error)
    assert any("pad should be at most half of effective kernel size" in text for text in texts(app.code))


def test_ceil_mode_pooling():
    app = set_numbers(open_shapes(), shapes_n=5)
    app.radio(key="shapes_kind").set_value("pool").run()
    assert output_size(app) == "2 × 2"
    app.checkbox(key="shapes_ceil_mode").check().run()
    assert output_size(app) == "3 × 3"
    assert r"\left\lceil" in app.latex[0].value
    assert "PyTorch agrees: a real forward pass gives the same size." in texts(app.success)


def test_dilated_kernel_too_large_names_its_span():
    app = set_numbers(open_shapes(), shapes_n=8, shapes_conv_f=3, shapes_conv_d=4)
    assert "Impossible layer: kernel 3 with its dilation spans 9 cells, more than the padded input 8." in texts(
        app.error
    )


def test_picture_follows_the_position_slider():
    app = set_numbers(open_shapes(), shapes_n=9, shapes_conv_f=3, shapes_conv_s=2)
    assert output_size(app) == "4 × 4"
    slider = app.slider(key="shapes_position")
    assert (slider.min, slider.max) == (1, 16)
    spec = app.get("plotly_chart")[0].proto.spec
    assert "cell (row 0, column 0)" in spec
    slider.set_value(6).run()  # row-major: the 6th position is row 1, column 1
    spec = app.get("plotly_chart")[0].proto.spec
    assert "cell (row 1, column 1)" in spec and "stride 2" in spec


def test_picture_is_skipped_for_a_large_input():
    app = set_numbers(open_shapes(), shapes_n=200)
    assert any("200 cells across" in text for text in texts(app.info))


TUTORIAL_ROWS = [
    "1 × 28 × 28 → **10 × 24 × 24**, 260 parameters",
    "10 × 24 × 24 → **10 × 12 × 12**, 0 parameters",
    "10 × 12 × 12 → **10 × 12 × 12**, 0 parameters",
    "10 × 12 × 12 → **20 × 8 × 8**, 5,020 parameters",
    "20 × 8 × 8 → **20 × 8 × 8**, 0 parameters",
    "20 × 8 × 8 → **20 × 4 × 4**, 0 parameters",
    "20 × 4 × 4 → **20 × 4 × 4**, 0 parameters",
    "20 × 4 × 4 → **320**, 0 parameters",
    "320 → **50**, 16,050 parameters",
    "50 → **50**, 0 parameters",
    "50 → **50**, 0 parameters",
    "50 → **10**, 510 parameters",
]


def network_results(app: AppTest) -> list[str]:
    return [text for text in texts(app.markdown) if "→" in text]


def test_network_starts_as_the_tutorial_down_to_its_10_scores(app):
    """The editor replaced the conv-and-pool chain: it now runs on through view(-1, 320) to the 10 scores."""
    assert network_results(app) == TUTORIAL_ROWS
    assert [metric.value for metric in app.metric][-3:] == ["21,840", "6.7 MB", "10"]


def test_32_pixels_break_view_320_and_adaptive_pooling_mends_it():
    app = set_numbers(open_shapes(), shapes_lab_input_size=32)
    assert network_results(app)[7] == "20 × 5 × 5 → **500**, 0 parameters"
    breaks = [text for text in texts(app.error) if "first Linear layer" in text]
    assert breaks and "gets 500 features" in breaks[0] and "in_features 320" in breaks[0], texts(app.error)
    assert any("500 features" in text and "320" in text for text in texts(app.warning))  # marked on its row
    app.selectbox(key="lab_shapes_add_type").set_value("AdaptiveAvgPool2d")
    app.number_input(key="lab_shapes_add_at").set_value(8)
    app.button(key="lab_shapes_add").click().run()
    new_row = app.session_state["lab_shapes_rows"][7]
    assert new_row["type"] == "AdaptiveAvgPool2d"
    set_numbers(app, **{f"lab_shapes_{new_row['id']}_output_size": 4})
    assert network_results(app)[7:9] == ["20 × 5 × 5 → **20 × 4 × 4**, 0 parameters",
                                         "20 × 4 × 4 → **320**, 0 parameters"]
    assert not app.error
    assert any("every Linear layer gets as many features" in text for text in texts(app.success))


def test_network_survives_a_page_switch():
    app = open_shapes()
    first = app.session_state["lab_shapes_rows"][0]
    set_numbers(app, **{f"lab_shapes_{first['id']}_kernel_size": 3})
    before = network_results(app)
    assert before[0] == "1 × 28 × 28 → **10 × 26 × 26**, 100 parameters"
    app.switch_page("pages/home.py").run()
    app.switch_page("pages/shapes.py").run()
    assert network_results(app) == before


def test_open_in_the_train_page_carries_the_network_over():
    app = open_shapes()
    app.button(key=f"lab_shapes_{app.session_state['lab_shapes_rows'][1]['id']}_remove").click().run()
    layers = [{"type": row["type"], **row["args"]} for row in app.session_state["lab_shapes_rows"]]
    app.button(key="shapes_lab_open_train").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert [{"type": row["type"], **row["args"]} for row in app.session_state["lab_train_rows"]] == layers
    assert app.session_state["lab_train_preset"] == "custom"


def test_chinese_flooring_and_impossible_cases():
    app = set_numbers(open_shapes("zh"), shapes_conv_s=2)
    assert app.title[0].value == "形状计算器"
    assert output_size(app) == "12 × 12"
    assert any("23 / 2 不能整除（余数 1）" in text for text in texts(app.info))
    assert "PyTorch 结果一致：真实的前向传播得到相同的尺寸。" in texts(app.success)
    app = set_numbers(app, shapes_conv_s=1, shapes_n=5, shapes_conv_f=7)
    assert "无法构成的层：卷积核 7 大于填充后的输入 5。" in texts(app.error)
    assert "输出尺寸" not in [metric.label for metric in app.metric]  # the calculator shows no size


def test_language_switch_keeps_the_numbers():
    app = set_numbers(open_shapes(), shapes_n=5, shapes_conv_f=7)
    assert "Impossible layer: kernel 7 is larger than the padded input 5." in texts(app.error)
    app.session_state[LANGUAGE_KEY] = "zh"  # what the sidebar's language box does (AppTest runs the page alone)
    app.run()
    assert "无法构成的层：卷积核 7 大于填充后的输入 5。" in texts(app.error)
    assert app.number_input(key="shapes_n").value == 5


def test_picture_cells_show_padding_dilation_and_the_taps():
    steps = conv_output_steps(11, 3, p=1, s=2, d=2)  # padded 13, span 5, output 5
    kinds = cell_kinds(steps, row=0, col=2)
    taps = np.argwhere(kinds == TAP)
    assert sorted(map(tuple, taps)) == [(r, c) for r in (0, 2, 4) for c in (4, 6, 8)]
    assert np.count_nonzero(kinds == HOLE) == 5 * 5 - 9
    assert (kinds[[0, -1], :] != INPUT).all() and (kinds[:, [0, -1]] != INPUT).all()  # the padding ring
    assert np.count_nonzero(kinds == PADDING) == 13 * 13 - 11 * 11 - 5  # the window's top row lies on the padding
    assert not (kinds == DROPPED).any()  # (13 - 5) / 2 is exact


def test_picture_cells_mark_what_the_floor_drops():
    steps = conv_output_steps(28, 5, s=2)
    kinds = cell_kinds(steps, row=0, col=0)
    dropped = np.argwhere(kinds == DROPPED)
    assert len(dropped) == 28 + 27 and all(r == 27 or c == 27 for r, c in dropped)


def test_picture_cells_for_a_ceil_mode_window_past_the_edge():
    steps = pool_output_steps(5, 2, 2, ceil_mode=True)  # 3 windows: the last one hangs over by one cell
    kinds = cell_kinds(steps, row=2, col=2)
    assert kinds.shape == (5, 5) and np.count_nonzero(kinds == TAP) == 1 and kinds[4, 4] == TAP
