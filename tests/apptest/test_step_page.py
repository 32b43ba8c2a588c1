"""The step-by-step page without a browser: every button in order, on a fresh net and on a trained one; every
result stays on screen; the session's model never changes; no English on the Chinese page with every stage open.
Also the Draw page's saliency section and the shape calculator's tensor lab, which this page's core serves."""

from __future__ import annotations

import inspect
import json

import pytest
import torch
from streamlit.testing.v1 import AppTest

from mnist_core.network.spec import NetSpec, build_model
from mnist_core.training.engine import sgd_step
from mnist_core.training.presets import PRESETS
from tests.apptest.app import open_page
from tests.apptest.test_i18n_coverage import untranslated
from tests.drawn_digits import drawn_digits, evaluation_digits, png_bytes
from ui.i18n import strings
from ui.session import SESSION_KEY

EN = strings("en")
SMALL_BATCH = 8  # every stage in well under a second
FEW_STEPS = 3
STAGE_BUTTONS = ("step_forward", "step_scores", "step_loss", "step_backward", "step_step", "step_repeat",
                 "step_modes", "step_no_grad", "step_same_seed", "step_same_seed", "step_other_seed")


def ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def open_step_page(language: str = "en", token: str | None = None) -> AppTest:
    app = open_page("pages/step.py", language, token)
    app.slider(key="step_batch_size").set_value(SMALL_BATCH).run()
    app.slider(key="step_repeat_n").set_value(FEW_STEPS).run()
    return ok(app)


def press(app: AppTest, key: str) -> AppTest:
    return ok(app.button(key=key).click().run())


def chart_titles(app: AppTest) -> list[str]:
    titles = []
    for chart in app.get("plotly_chart"):
        title = json.loads(chart.proto.spec)["layout"].get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def press_every_button(app: AppTest) -> AppTest:
    for key in STAGE_BUTTONS:
        press(app, key)
    return app


def assert_every_stage_shown(app: AppTest) -> None:
    """Each stage's result is still on screen after all the later ones ran."""
    tables = {frame.proto.id for frame in app.dataframe}
    assert len(app.dataframe) >= 4, tables  # forward shapes, loss, update, seeds
    titles = " ".join(chart_titles(app))
    assert EN["step.curves_title"] in titles
    assert EN["step.norms_title"].split("{")[0] in titles
    metric_labels = [metric.label for metric in app.metric]
    for key in ("step.loss_hand", "step.loss_torch", "step.loss_before", "step.loss_after"):
        assert EN[key] in metric_labels
    markdown = " ".join(m.value for m in app.markdown)
    assert "`x.view(-1, 320)`" in markdown or "view(-1," in markdown
    assert EN["step.seed_identical"].format(count=2) in markdown


def test_the_page_shows_the_real_step_function_not_a_copy(monkeypatch):
    """The code at the top is sgd_step's source as the engine has it: give the function another body and the
    page shows that one (a copy pasted into the page would not follow)."""
    app = open_page("pages/step.py")
    assert app.code[0].value == inspect.getsource(sgd_step).rstrip()  # st.code drops the last newline
    assert "loss.backward()" in app.code[0].value and "optimizer.step()" in app.code[0].value

    def another_step(network, optimizer, data, target):
        return network(data).sum()  # not the tutorial's step: only its source matters here

    monkeypatch.setattr(sgd_step, "__code__", another_step.__code__)
    ok(app.run())
    assert app.code[0].value == inspect.getsource(another_step).rstrip()


def test_every_button_in_order_on_a_fresh_net():
    app = open_step_page()
    assert app.selectbox(key="step_source").value == "tutorial"  # no session model yet
    press_every_button(app)
    assert_every_stage_shown(app)
    hand, torch_loss = (float(m.value) for m in app.metric[:2])
    assert hand == pytest.approx(torch_loss, abs=1e-5)
    loss_rows = app.dataframe[1].value
    assert len(loss_rows) == SMALL_BATCH
    seeds = app.dataframe[-1].value
    assert seeds.iloc[0, 2] == seeds.iloc[1, 2] != seeds.iloc[2, 2]  # same seed, same loss; another seed, another


def test_skipping_zero_grad_piles_gradients_up():
    app = open_step_page()
    press(app, "step_backward")
    assert not app.info
    app.toggle(key="step_skip_zero_grad").set_value(True).run()
    press(app, "step_backward")
    assert EN["step.backward_piled"].format(passes=2).split(":")[0] in app.info[0].value


def test_step_waits_for_backward_and_a_huge_rate_overshoots():
    app = open_step_page()
    assert app.button(key="step_step").disabled
    press(app, "step_backward")
    app.number_input(key="step_learning_rate").set_value(100.0).run()
    press(app, "step_step")
    assert app.warning and EN["step.step_overshot"].split("{")[0] in app.warning[0].value


def test_a_preset_with_adam_shows_adams_formula():
    app = open_step_page()
    app.selectbox(key="step_source").set_value("modern").run()
    ok(app)
    press(app, "step_backward")
    press(app, "step_step")
    markdown = " ".join(m.value for m in app.markdown)
    assert "β₁" in markdown and "m̂" in markdown
    press(app, "step_repeat")
    assert len(json.loads(app.get("plotly_chart")[-1].proto.spec)["data"]) == 4  # 3 momenta + AdamW


def test_every_button_on_a_trained_model_leaves_it_unchanged(trained_token):
    app = open_step_page(token=trained_token)
    assert app.selectbox(key="step_source").value == "session"
    model = app.session_state[SESSION_KEY].model()
    before = {name: p.detach().clone() for name, p in model.model.named_parameters()}
    press_every_button(app)
    assert_every_stage_shown(app)
    after = app.session_state[SESSION_KEY].model()
    for name, p in after.model.named_parameters():
        assert torch.equal(p, before[name]), name


def layer_names(preset: str) -> set[str]:
    """A network's own layer names (bn1, conv3, ...): identifiers from the code, kept as they are in Chinese."""
    return {name for name, _ in build_model(NetSpec.from_dict(PRESETS[preset].spec)).named_children()}


def test_chinese_page_with_every_stage_open_shows_no_english(trained_token):
    app = open_step_page("zh", trained_token)
    press_every_button(app)
    assert untranslated(app) == {}
    app.selectbox(key="step_source").set_value("modern").run()
    for key in ("step_backward", "step_step", "step_repeat", "step_modes"):
        press(app, key)
    kept = layer_names("modern")
    assert {text: words - kept for text, words in untranslated(app).items() if words - kept} == {}


def test_changing_the_batch_starts_a_new_lab():
    app = open_step_page()
    press(app, "step_forward")
    assert app.dataframe
    app.number_input(key="step_seed").set_value(2).run()
    assert not ok(app).dataframe  # a new batch: the old results no longer describe it


# --- The Draw page's saliency and the shape calculator's tensor lab --------------------------------------


@pytest.fixture(scope="module")
def digit_png() -> bytes:
    originals, _ = evaluation_digits(10)
    return png_bytes(list(drawn_digits(originals[7:8]))[0])


def test_draw_page_shows_saliency_toward_the_answer_and_another_digit(trained_token, digit_png):
    """English only: in AppTest the Draw page's model picker formats its options outside the script run, in
    English, so any widget change on the Chinese page fails to match them (the browser test covers Chinese)."""
    language = "en"
    app = open_page("pages/draw.py", language, trained_token)
    app.radio(key="draw_input").set_value("upload").run()
    ok(app.file_uploader(key="draw_image_file").set_value(("seven.png", digit_png, "image/png")).run())
    texts = strings(language)
    assert texts["draw.saliency_heading"] in [h.value for h in app.subheader]
    figure = json.loads(app.get("plotly_chart")[-1].proto.spec)
    maps = [trace for trace in figure["data"] if trace.get("colorscale") and trace.get("opacity")]
    assert len(maps) == 2 and all(len(m["z"]) == 28 and len(m["z"][0]) == 28 for m in maps)
    app.selectbox(key="draw_saliency_other").set_value(4).run()
    app.radio(key="draw_saliency_method").set_value("saliency").run()
    ok(app)
    titles = [a["text"] for a in json.loads(app.get("plotly_chart")[-1].proto.spec)["layout"]["annotations"]]
    assert texts["draw.saliency_toward"].split("{")[0] + "4" in titles[1]


@pytest.mark.parametrize("operation, shape, argument, expected", [
    ("view", "64, 20, 4, 4", "-1, 320", "64 × 320"),
    ("bmm", "64, 3, 4", "64, 4, 5", "64 × 3 × 5"),
])
def test_tensor_lab_shows_torchs_result(operation, shape, argument, expected):
    app = open_page("pages/shapes.py")
    app.radio(key="shapes_lab_operation").set_value(operation).run()
    app.text_input(key=f"shapes_lab_{operation}_shape").set_value(shape).run()
    second = "shapes_lab_bmm_second_shape" if operation == "bmm" else f"shapes_lab_{operation}_new_shape"
    ok(app.text_input(key=second).set_value(argument).run())
    assert any(EN["shapes.lab_result"].format(shape=expected) == s.value for s in app.success)


def test_tensor_lab_shows_pytorchs_refusal_and_bad_shapes():
    app = open_page("pages/shapes.py")
    app.radio(key="shapes_lab_operation").set_value("bmm").run()
    ok(app.text_input(key="shapes_lab_bmm_second_shape").set_value("64, 5, 6").run())
    assert any("Expected size" in code.value for code in app.code)
    ok(app.text_input(key="shapes_lab_bmm_shape").set_value("64, a").run())
    assert any(EN["shapes.lab_error_not_a_shape"].format(text="64, a") == e.value for e in app.error)
