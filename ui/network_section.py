"""The Train page's "Network" section: a preset picker, reset, JSON download and upload, and the editor;
and the export of the network and its training settings as PyTorch code."""

from __future__ import annotations

import streamlit as st

from mnist_core import ConfigError, TrainConfig, config_errors
from mnist_core.export import SCRIPT_FILE_NAME, pytorch_script
from mnist_core.network.spec import NetSpec, SpecError, check_spec
from mnist_core.training.presets import PRESETS
from mnist_core.training.recipe import Recipe
from ui.i18n import t
from ui.net_editor import (CUSTOM, EditorResult, base_preset, error_text, layers_of, load_preset, net_editor,
                           preset_of, rows, set_layers)
from ui.recipe_section import set_recipe_widgets
from ui.uploads import read_once

PLACE = "train"  # the editor's state in st.session_state: the network the Train button trains
CHOICE_KEY = "lab_train_preset_choice"
UPLOAD_KEY = "lab_train_json"
UPLOAD_DONE_KEY = "lab_train_json_done"  # the refusal of the uploaded file (or None), kept by read_once
MAX_SPEC_UPLOAD_MB = 1  # a 24-layer spec is about 2 KB; Streamlit's uploader limit is in whole megabytes
SPEC_FILE_NAME = "network.json"
EXPORT_KEY = "lab_train_export"


def apply_preset(name: str) -> None:
    """The preset's network, recipe and settings, as if the learner had set each widget."""
    preset = PRESETS[name]
    load_preset(PLACE, name)
    for field, value in preset.config.to_dict().items():
        st.session_state[f"train_{field}"] = value
    set_recipe_widgets(preset.recipe, preset.config)


def _picked() -> None:
    name = st.session_state[CHOICE_KEY]
    if name != CUSTOM:
        apply_preset(name)


def _reset() -> None:
    apply_preset(base_preset(PLACE))


def _load_json(upload) -> str | None:
    """Make the uploaded file the network; the refusal, worded, if it cannot be one."""
    try:
        spec = NetSpec.from_json(upload.getvalue())
        check_spec(spec)
    except SpecError as error:
        return error_text(error)
    except RecursionError:  # JSON nested thousands deep: json.loads gives up before any check
        return error_text(SpecError("too deeply nested", "not_a_spec"))
    set_layers(PLACE, spec.to_dict()["layers"], CUSTOM)
    return None


def _json_controls() -> None:
    download, upload_column = st.columns([1, 2], vertical_alignment="bottom")
    try:
        text = NetSpec.from_dict({"layers": layers_of(PLACE)}).to_json()
    except SpecError:  # no layers left: nothing to download
        text = None
    download.download_button(t("lab.download_json"), data=text or "", file_name=SPEC_FILE_NAME,
                             mime="application/json", disabled=text is None, key="lab_train_download",
                             icon=":material/download:", help=t("lab.download_json_help"))
    upload = upload_column.file_uploader(t("lab.load_json"), type=["json"], key=UPLOAD_KEY,
                                         max_upload_size=MAX_SPEC_UPLOAD_MB, help=t("lab.load_json_help"))
    done = read_once(upload, UPLOAD_DONE_KEY, _load_json)
    if done is None:
        return
    if done.fresh and done.result is None:
        st.rerun()  # the preset picker above was drawn before the file became the network
    if done.result is not None:
        st.error(f"**{t('lab.load_refused', name=upload.name)}** {done.result}", icon=":material/block:")


def network_section() -> EditorResult:
    st.subheader(t("lab.network_heading"))
    st.markdown(t("lab.network_intro"))
    rows(PLACE)  # the tutorial, on a first visit
    current = preset_of(PLACE)
    options = [*PRESETS, CUSTOM] if current == CUSTOM else list(PRESETS)
    st.session_state[CHOICE_KEY] = current  # follows edits: an edited network is "custom"
    names = {name: t(f"lab.preset_{name}") for name in options}
    picker, reset = st.columns([3, 1], vertical_alignment="bottom")
    picker.selectbox(t("lab.preset"), options, format_func=names.get, key=CHOICE_KEY, on_change=_picked,
                     help=t("lab.preset_help"))
    reset.button(t("lab.reset_preset", name=names.get(base_preset(PLACE), base_preset(PLACE))), on_click=_reset,
                 key="lab_train_reset", disabled=current != CUSTOM, icon=":material/restart_alt:")
    if current != CUSTOM:
        st.caption(t(f"lab.purpose_{current}"))
    _json_controls()
    # The memory estimate follows the training batch size, once the settings accept it (they say why not).
    batch = st.session_state.get("train_batch_size_train", TrainConfig().batch_size_train)
    if config_errors({"batch_size_train": batch}):
        batch = TrainConfig().batch_size_train
    return net_editor(PLACE, batch_size=batch)


def export_button(network: EditorResult, config: TrainConfig | None, recipe: Recipe | None) -> None:
    """"Export as PyTorch code": the network, the settings and the recipe as one standalone training script,
    offered once all three are valid (each section above says what is wrong otherwise)."""
    script = None
    if network.ok and config is not None and recipe is not None:
        try:
            script = pytorch_script(network.spec, config, recipe)
        except (SpecError, ConfigError):  # a limit at this batch size, or Nesterov without momentum: said above
            script = None
    st.download_button(t("export.button"), data=script or "", file_name=SCRIPT_FILE_NAME, mime="text/x-python",
                       disabled=script is None, key=EXPORT_KEY, icon=":material/code:", help=t("export.help"))
