"""The Draw page's reading of one digit: the answer, what the net sees, the maps inside it, and why this answer.

Each section is one function of the model and the prepared input; pages/draw.py calls them in order.
"""

from __future__ import annotations

import streamlit as st

from mnist_core.network.tutorial import tutorial_spec
from mnist_core.inference import conv1_kernels, layer_activations, read_tensor
from ui import draw_figures
from ui.i18n import t

MAX_SHOWN_MAPS = 32  # feature maps drawn per conv layer: a 96-channel layer would fill the page with tiny maps
MAPS_HEIGHT = {1: 230, 2: 300}  # px of a maps figure by rows of maps (10 a row) ...
MAP_ROW_HEIGHT = 90  # ... and px for each row beyond two


def show_answer(model, prepared, naive) -> None:
    reading = read_tensor(model, prepared.tensor)
    naive_reading = read_tensor(model, naive.tensor) if naive is not None else None
    st.markdown(
        f"<div style='font-size:7rem;font-weight:700;line-height:1;text-align:center' "
        f"class='predicted-digit'>{reading.digit}</div>",
        unsafe_allow_html=True,
    )
    st.markdown(t("draw.answer", digit=reading.digit, percent=f"{reading.confidence:.0%}"))
    if reading.unsure:
        st.warning(t("draw.unsure", percent=f"{reading.confidence:.0%}"))
    if naive_reading is not None:
        st.markdown(t("draw.naive_answer", digit=naive_reading.digit, percent=f"{naive_reading.confidence:.0%}"))
    st.plotly_chart(
        draw_figures.probability_figure(reading.probabilities,
                                        None if naive_reading is None else naive_reading.probabilities),
        key="draw_probabilities",
    )


def show_preparation(prepared, naive) -> None:
    st.subheader(t("draw.sees_heading"))
    steps = [
        (prepared.crop, t("draw.step_crop", height=prepared.crop.shape[0], width=prepared.crop.shape[1])),
        (prepared.fitted, t("draw.step_fit", height=prepared.fitted.shape[0], width=prepared.fitted.shape[1])),
        (prepared.centred, t("draw.step_centred")),
    ]
    if naive is not None:
        steps.append((naive.resized, t("draw.step_naive")))
    for column, (ink, caption) in zip(st.columns(4), steps):
        column.image(draw_figures.step_picture(ink), caption=caption, width=draw_figures.STEP_IMAGE_SIDE,
                     output_format="PNG")  # one framed size for every step; lossless, as the pixels are the point
    st.caption(t("draw.sees_note"))


def show_inside(model, prepared) -> None:
    st.subheader(t("draw.inside_heading"))
    st.markdown(t("draw.inside_note"))
    activations = layer_activations(model, prepared.tensor)
    tutorial = model.spec == tutorial_spec()  # its titles also work the sizes out; other nets get plain ones
    for name, maps in activations.items():
        title = t(f"draw.{name}_title") if tutorial else t(
            "draw.conv_maps_title", name=name, count=len(maps), height=maps.shape[1], width=maps.shape[2])
        if len(maps) > MAX_SHOWN_MAPS:  # a wide layer: the first maps, and the count said
            title = t("lab.maps_shown", title=title, shown=MAX_SHOWN_MAPS, count=len(maps))
        shown = maps[:MAX_SHOWN_MAPS]
        rows = -(-len(shown) // draw_figures.MAPS_PER_ROW)
        st.plotly_chart(draw_figures.maps_figure(shown, title, "draw.map_label", height=MAPS_HEIGHT[min(rows, 2)]
                                                 + MAP_ROW_HEIGHT * max(rows - 2, 0)), key=f"draw_{name}_maps")
    kernels = conv1_kernels(model)
    if kernels is not None:
        title = t("draw.kernels_title") if tutorial else t(
            "draw.kernels_title_any", count=len(kernels), size=kernels.shape[1], name=next(iter(activations)))
        st.plotly_chart(draw_figures.maps_figure(kernels, title, "draw.kernel_label", height=230), key="draw_kernels")
        st.caption(t("draw.kernels_note"))



def show_saliency(model, prepared) -> None:
    """Why this answer, and why not another digit: Captum's attribution toward each, over the 28 x 28 input."""
    from mnist_core.data import N_CLASSES
    from mnist_core.training.explain import METHODS, saliency_map  # Captum loads on the first digit read, not with the page
    from ui.step_figures import saliency_figure

    st.subheader(t("draw.saliency_heading"))
    st.markdown(t("draw.saliency_intro"))
    reading = read_tensor(model, prepared.tensor)
    runner_up = int(reading.probabilities.argsort()[-2])  # the digit it nearly said: the natural "why not?"
    left, right = st.columns(2)
    other = left.selectbox(t("draw.saliency_other"), list(range(N_CLASSES)), index=runner_up,
                           key="draw_saliency_other", help=t("draw.saliency_other_help"))
    method_names = {method: t(f"draw.saliency_method_{method}") for method in METHODS}
    method = right.radio(t("draw.saliency_method"), METHODS, format_func=method_names.get, horizontal=True,
                         key="draw_saliency_method", help=t("draw.saliency_method_help"))
    maps = [(t("draw.saliency_toward", digit=digit, percent=f"{reading.probabilities[digit]:.0%}"),
             saliency_map(model, prepared.tensor, digit, method).values) for digit in (reading.digit, other)]
    st.plotly_chart(saliency_figure(prepared.centred, maps, t("draw.saliency_title", method=method_names[method])),
                    key="draw_saliency")
    st.caption(t("draw.saliency_note"))
