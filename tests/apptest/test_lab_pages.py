"""The network lab on the Train page, through its widgets: the editor, JSON files, presets, the recipe, the
lessons, training each preset and comparing the runs (AppTest, English and Chinese)."""

from __future__ import annotations

import json

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from mnist_core.export import pytorch_script
from mnist_core.network.spec import MAX_PARAMETERS, NetSpec
from mnist_core.training.presets import PRESETS
from tests.apptest.app import open_page, train_until_done
from ui.i18n import strings

EN, ZH = strings("en"), strings("zh")
PLACE_ROWS = "lab_train_rows"
TUTORIAL_LAYERS = len(PRESETS["tutorial"].spec["layers"])
# Every type once, on a net small enough for quick lessons: 28 -> 28 -> 14 -> 7 -> 2 x 2 -> 32 -> 16 -> 10.
EVERY_TYPE = {"layers": [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
    {"type": "BatchNorm2d"},
    {"type": "LeakyReLU", "negative_slope": 0.1},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "AvgPool2d", "kernel_size": 2},
    {"type": "Dropout2d", "p": 0.25},
    {"type": "AdaptiveAvgPool2d", "output_size": 2},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 16},
    {"type": "ReLU"},
    {"type": "Dropout", "p": 0.5},
    {"type": "Linear", "out_features": 10},
]}


def open_train(language: str = "en") -> AppTest:
    return open_page("pages/train.py", language)


def rows(app: AppTest) -> list[dict]:
    return app.session_state[PLACE_ROWS]


def row_key(app: AppTest, index: int, name: str) -> str:
    return f"lab_train_{rows(app)[index]['id']}_{name}"


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def ran(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def add_layer(app: AppTest, kind: str, position: int | None = None) -> AppTest:
    app.selectbox(key="lab_train_add_type").set_value(kind)
    if position is not None:
        app.number_input(key="lab_train_add_at").set_value(position)
    app.button(key="lab_train_add").click()
    return ran(app)


def upload_json(app: AppTest, content: bytes, name: str = "network.json") -> AppTest:
    app.file_uploader(key="lab_train_json").set_value((name, content, "application/json"))
    return ran(app)


def train_disabled(app: AppTest) -> bool:
    return app.button(key="train_start").disabled


# --- The editor -------------------------------------------------------------------------------------


def test_editor_adds_moves_removes_and_refuses_layers():
    app = open_train()
    assert [row["type"] for row in rows(app)] == [layer["type"] for layer in PRESETS["tutorial"].spec["layers"]]
    add_layer(app, "LeakyReLU")  # by default just before the last layer: the net still ends in 10 scores
    assert len(rows(app)) == TUTORIAL_LAYERS + 1 and rows(app)[-2]["type"] == "LeakyReLU"
    assert app.selectbox(key="lab_train_preset_choice").value == "custom" and not train_disabled(app)
    app.button(key=row_key(app, TUTORIAL_LAYERS - 1, "up")).click()
    assert [row["type"] for row in ran(app).session_state[PLACE_ROWS][-3:]] == ["LeakyReLU", "Dropout", "Linear"]
    app.button(key=row_key(app, TUTORIAL_LAYERS - 2, "remove")).click()
    assert [row["type"] for row in ran(app).session_state[PLACE_ROWS]] == [
        layer["type"] for layer in PRESETS["tutorial"].spec["layers"]]

    add_layer(app, "Conv2d", position=9)  # after Flatten: a conv layer cannot take 320 flat numbers
    refusal = "Layer 9 (Conv2d): this layer works on images (C × H × W) but gets 320 flat features; move it before Flatten."
    assert refusal in texts(app.error)  # on the row ...
    assert any(text.endswith(refusal) and EN["lab.cannot_train"] in text for text in texts(app.error))  # ... and below
    assert train_disabled(app)
    assert EN["lab.row_unreached"] in texts(app.caption)  # the layers after it
    app.button(key=row_key(app, 8, "remove")).click()
    assert not ran(app).error and not train_disabled(app)


def test_refusal_names_the_layer_in_chinese():
    app = open_train("zh")
    add_layer(app, "Conv2d", position=9)
    assert any(text.startswith("第 9 层（Conv2d）：这一层作用于图像") for text in texts(app.error)), texts(app.error)


def test_shape_rules_and_limits_refuse_with_their_numbers():
    app = open_train()
    app.number_input(key=row_key(app, 0, "kernel_size")).set_value(28)  # conv1 now gives 10 x 1 x 1
    assert "Layer 2 (MaxPool2d): kernel 2 is larger than the padded input 1." in texts(ran(app).error)
    assert train_disabled(app)
    app.number_input(key=row_key(app, 0, "kernel_size")).set_value(5)
    app.number_input(key=row_key(app, 0, "out_channels")).set_value(512)
    app.number_input(key=row_key(app, 3, "out_channels")).set_value(512)  # conv2: 512 x 512 x 5 x 5 weights
    errors = texts(ran(app).error)
    assert any(f"parameters, over the limit of {MAX_PARAMETERS:,}" in text for text in errors), errors
    assert train_disabled(app)


def test_bad_json_files_give_a_message_and_no_exception():
    app = open_train()
    upload_json(app, b"{not json")
    assert f"**{EN['lab.load_refused'].format(name='network.json')}** {EN['lab.rule_not_a_spec']}" in texts(app.error)
    upload_json(app, json.dumps({"layers": [{"type": "Linear", "out_features": 10}]}).encode(), "flat.json")
    assert any("flat.json" in text and "Layer 1 (Linear): Linear needs flat features but gets 1 × 28 × 28" in text
               for text in texts(app.error))
    upload_json(app, json.dumps({"layers": [{"type": "Conv3d"}]}).encode(), "type.json")
    assert any("Layer 1 (Conv3d): this is not a supported layer" in text for text in texts(app.error))
    upload_json(app, b"[" * 100_000, "deep.json")  # nested past Python's recursion limit
    assert any("deep.json" in text for text in texts(app.error))
    upload_json(app, bytes(range(256)), "binary.json")
    assert any("binary.json" in text for text in texts(app.error))
    assert [row["type"] for row in rows(app)] == [layer["type"] for layer in PRESETS["tutorial"].spec["layers"]]
    assert not train_disabled(app)  # a refused file changes nothing


def test_a_good_json_file_becomes_the_network():
    app = upload_json(open_train(), json.dumps(EVERY_TYPE).encode())
    assert [{"type": row["type"], **row["args"]} for row in rows(app)] == EVERY_TYPE["layers"]
    assert app.selectbox(key="lab_train_preset_choice").value == "custom"
    assert not app.error and not train_disabled(app)


def test_a_preset_sets_network_recipe_and_settings_and_reset_brings_it_back():
    app = open_train()
    app.selectbox(key="lab_train_preset_choice").set_value("modern")
    ran(app)
    modern = PRESETS["modern"]
    assert [{"type": row["type"], **row["args"]} for row in rows(app)] == modern.spec["layers"]
    assert app.selectbox(key="train_optimizer").value == "adamw"
    assert app.selectbox(key="train_schedule").value == "onecycle"
    assert all(app.toggle(key=f"train_augment_{kind}").value for kind in modern.recipe.augment)
    assert app.number_input(key="train_n_epochs").value == modern.config.n_epochs
    assert EN["lab.purpose_modern"] in texts(app.caption)
    app.button(key=row_key(app, 0, "remove")).click()
    assert ran(app).selectbox(key="lab_train_preset_choice").value == "custom"
    app.button(key="lab_train_reset").click()
    assert ran(app).selectbox(key="lab_train_preset_choice").value == "modern"
    assert len(rows(app)) == len(modern.spec["layers"])


# --- The recipe -------------------------------------------------------------------------------------


def test_typed_learning_rate_becomes_a_slider_stop():
    app = open_train()
    app.number_input(key="train_learning_rate_typed").set_value(0.003)
    ran(app)
    assert app.select_slider(key="train_learning_rate").value == 0.003
    app.select_slider(key="train_learning_rate").set_value(0.1)
    assert ran(app).number_input(key="train_learning_rate_typed").value == 0.1


def test_optimizer_fields_follow_the_choice_and_nesterov_needs_momentum():
    app = open_train()
    assert app.slider(key="train_momentum").value == 0.5
    assert any("v ← momentum · v + g" in text for text in texts(app.markdown))
    app.checkbox(key="train_nesterov").check()
    app.slider(key="train_momentum").set_value(0.0)
    assert EN["lab.recipe_error_nesterov_momentum"].format(value=0.0) in texts(ran(app).error)
    assert train_disabled(app)
    app.selectbox(key="train_optimizer").set_value("adam")
    ran(app)
    assert not app.error and not train_disabled(app)
    assert EN["lab.adam_note"] in texts(app.caption)
    with pytest.raises(KeyError):
        app.slider(key="train_momentum")  # momentum belongs to SGD


def test_schedule_chart_and_augmentation_grid_follow_the_widgets():
    app = open_train()

    def rate_chart() -> dict:
        return next(json.loads(chart.proto.spec) for chart in app.get("plotly_chart")
                    if "Learning rate over" in chart.proto.spec)

    flat = rate_chart()["data"][0]["y"]
    assert set(flat) == {0.01}
    app.selectbox(key="train_schedule").set_value("onecycle")
    ran(app)
    rates = rate_chart()["data"][0]["y"]
    assert max(rates) == pytest.approx(0.01, rel=1e-3) and rates[0] < 0.001 and rates[-1] < 1e-5
    grid = app.get("image")[0].proto.imgs[0].url
    assert app.get("image")[0].proto.imgs[0].caption == EN["lab.augment_grid_off"]
    app.toggle(key="train_augment_rotate").set_value(True)
    ran(app)
    assert app.get("image")[0].proto.imgs[0].url != grid
    assert app.get("image")[0].proto.imgs[0].caption == EN["lab.augment_grid_caption"]


# --- The lessons ------------------------------------------------------------------------------------


def test_every_layer_types_lesson_runs_on_its_row():
    app = upload_json(open_train(), json.dumps(EVERY_TYPE).encode())
    for index in range(len(EVERY_TYPE["layers"])):
        app.session_state[row_key(app, index, "lesson")] = True  # what a click on the row's expander does
    ran(app)
    shown = "\n".join(texts(app.markdown))
    assert "32 × 16 = **512** weights, plus **16** biases" in shown and "**528** parameters" in shown  # Linear 32 -> 16
    assert "x.view(-1, 320) = **64 × 320**" in shown  # Flatten's -1, on a tutorial batch
    assert "8 × 1 × 3 × 3 = **72** weights" in shown  # Conv2d(1, 8, 3)
    assert "It learns **16** numbers" in shown and "keeps **16** running statistics" in shown  # BatchNorm2d(8)
    assert "1 of 4 numbers, 25% of the map" in shown
    tables = [table.value for table in app.dataframe]
    adaptive = next(table for table in tables if EN["lab.lesson_in_shape"] in table.columns)
    assert adaptive.values.tolist() == [["8 × 28 × 28", "8 × 2 × 2"], ["8 × 32 × 32", "8 × 2 × 2"]]
    batchnorm = next(table for table in tables if EN["lab.lesson_batchnorm_mean_train"] in table.columns)
    assert batchnorm[EN["lab.lesson_batchnorm_mean_train"]].abs().max() < 1e-3  # train(): the batch's own statistics
    assert (batchnorm[EN["lab.lesson_batchnorm_std_train"]] - 1).abs().max() < 1e-2
    assert (batchnorm[EN["lab.lesson_batchnorm_mean_eval"]] - batchnorm[EN["lab.lesson_batchnorm_mean_before"]]).abs().max() > 0
    counts = [text for text in texts(app.caption) if "numbers set to 0" in text]
    assert counts and all(EN["lab.lesson_eval_same"] in text for text in counts)
    curves = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart") if "LeakyReLU, slope" in chart.proto.spec]
    assert curves and curves[0]["data"][1]["y"][0] == pytest.approx(-0.3)  # slope 0.1 at input -3


# --- Training each preset, and comparing them ---------------------------------------------------------


def test_each_preset_trains_a_short_run_and_the_comparison_names_them():
    app = open_train()
    for name in PRESETS:
        app.selectbox(key="lab_train_preset_choice").set_value(name)
        ran(app).number_input(key="train_n_epochs").set_value(1)
        app.button(key="train_start").click()
        ran(app)
        train_until_done(app)
        assert EN["train.finished"].format(epochs=1) in texts(app.success), (name, texts(app.error))
    first, second = app.selectbox(key="train_compare_first"), app.selectbox(key="train_compare_second")
    assert [name in label for name, label in zip(PRESETS, first.options)] == [True] * 3
    assert "21,840 parameters, SGD" in first.options[0] and "AdamW" in first.options[1]
    first.set_value(0)
    second.set_value(1)
    ran(app)
    table = next(frame.value for frame in app.dataframe if EN["lab.compare_setting"] in frame.value.columns)
    marks = dict(zip(table[EN["lab.compare_setting"]], table[EN["lab.compare_differs"]]))
    assert marks[EN["lab.compare_row_network"]] == "≠" and marks[EN["lab.compare_row_optimizer"]] == "≠"
    assert marks[EN["lab.compare_row_batch"]] == ""
    chart = next(json.loads(c.proto.spec) for c in app.get("plotly_chart") if EN["lab.compare_chart_title"] in c.proto.spec)
    accuracy = [trace for trace in chart["data"] if trace["name"].startswith(EN["train.chart_accuracy"])]
    assert len(accuracy) == 2 and all(len(trace["y"]) == 2 for trace in accuracy)  # before training, after epoch 1


# --- The Draw page with any network -----------------------------------------------------------------


def test_draw_page_shows_at_most_32_maps_a_layer_and_says_how_many():
    from mnist_core import TrainConfig, checkpoint_bytes, new_training_state
    from mnist_core.network.spec import NetSpec
    from tests.apptest.test_draw_page import chart_titles, upload_checkpoint, upload_image
    from tests.drawn_digits import drawn_digits, evaluation_digits, png_bytes

    wide = NetSpec.from_dict({"layers": [
        {"type": "Conv2d", "out_channels": 40, "kernel_size": 3, "padding": 1},
        {"type": "ReLU"},
        {"type": "AdaptiveAvgPool2d", "output_size": 1},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 10},
    ]})
    app = open_page("pages/draw.py")
    upload_checkpoint(app, checkpoint_bytes(new_training_state(TrainConfig(), spec=wide)))
    originals, _ = evaluation_digits(10)
    upload_image(app, "seven.png", png_bytes(list(drawn_digits(originals[7:8]))[0]))
    title = EN["draw.conv_maps_title"].format(name="conv1", count=40, height=28, width=28)
    assert EN["lab.maps_shown"].format(title=title, shown=32, count=40) in chart_titles(app)
    maps = next(json.loads(chart.proto.spec) for chart in app.get("plotly_chart") if "conv1" in chart.proto.spec)
    assert len(maps["data"]) == 32  # one heat map a shown channel


# --- Export as PyTorch code -------------------------------------------------------------------------


def test_export_offers_the_script_of_the_network_and_settings_on_the_page(monkeypatch):
    downloads = {}  # each download button's file, by the media URL its proto carries
    add = MediaFileManager.add

    def keep(manager, data, *args, **kwargs):
        url = add(manager, data, *args, **kwargs)
        downloads[url] = data
        return url

    monkeypatch.setattr(MediaFileManager, "add", keep)

    def exported(app: AppTest) -> str:
        button = app.download_button(key="lab_train_export")
        assert button.label == EN["export.button"] and not button.disabled
        return downloads[button.proto.url].decode("utf-8")

    def preset_script(name: str) -> str:
        preset = PRESETS[name]
        return pytorch_script(NetSpec.from_dict(preset.spec), preset.config, preset.recipe)

    app = open_train()
    assert exported(app) == preset_script("tutorial")
    app.selectbox(key="lab_train_preset_choice").set_value("modern")
    assert exported(ran(app)) == preset_script("modern")
    app.number_input(key="train_n_epochs").set_value(0)  # the settings refuse it: nothing to export
    assert ran(app).download_button(key="lab_train_export").disabled
