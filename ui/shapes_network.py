"""The shape calculator's network section: the network editor on an input of any size, and a button that
carries the network over to the Train page."""

from __future__ import annotations

import streamlit as st

from mnist_core.network.spec import INPUT_SHAPE, NetSpec, SpecError
from ui.i18n import t
from ui.net_editor import CUSTOM, layers_of, net_editor, preset_name, set_layers
from ui.shapes_chain import out_of_range, show_out_of_range

PLACE = "shapes"  # this page's own network, apart from the one the Train page trains
TRAIN_PLACE = "train"
INPUT_SIZE_KEY = "shapes_lab_input_size"


def open_in_train_page() -> None:
    layers = layers_of(PLACE)
    try:
        name = preset_name(NetSpec.from_dict({"layers": layers}))
    except SpecError:
        name = CUSTOM
    set_layers(TRAIN_PLACE, layers, name)
    st.switch_page("pages/train.py")


def shapes_network_section() -> None:
    st.header(t("lab.shapes_heading"))
    st.write(t("lab.shapes_intro"))
    st.session_state.setdefault(INPUT_SIZE_KEY, INPUT_SHAPE[-1])  # not value=, as for the calculator's boxes
    # no min or max, as for the calculator's boxes: a refused number is named, not silently replaced
    side = st.number_input(t("lab.shapes_input_size"), step=1, key=INPUT_SIZE_KEY, persist_state="session",
                           help=t("lab.shapes_input_size_help"))
    refused = out_of_range({"input_size": side})
    if refused:
        show_out_of_range(refused, {"input_size": t("lab.shapes_input_size")})
        return
    result = net_editor(PLACE, (INPUT_SHAPE[0], side, side))
    if st.button(t("lab.shapes_open_train"), key="shapes_lab_open_train", icon=":material/model_training:",
                 disabled=result.spec is None, help=t("lab.shapes_open_train_help")):
        open_in_train_page()
