"""The shape calculator's tensor lab: view/reshape with -1, squeeze/unsqueeze, Flatten and bmm, run by PyTorch on
zero tensors (mnist_core.training.step.tensor_operation), so every answer and every refusal is PyTorch's own."""

from __future__ import annotations

import streamlit as st

from mnist_core.training.step import MAX_LAB_DIMENSIONS, TENSOR_OPERATIONS, StepError, parse_shape, tensor_operation
from ui.i18n import t

# Each operation opens on the example the course uses it for: the tutorial's view(-1, 320), the batch of one.
EXAMPLES = {
    "view": ("64, 20, 4, 4", "-1, 320"),
    "reshape": ("64, 20, 4, 4", "64, -1"),
    "squeeze": ("1, 10", None),
    "unsqueeze": ("1, 28, 28", None),
    "flatten": ("64, 20, 4, 4", None),
    "bmm": ("64, 3, 4", "64, 4, 5"),
}


def _argument_widget(operation: str, column) -> tuple[str, str | int | None]:
    """The operation's second input as drawn: ("shape", text), ("dim", number) or ("none", None)."""
    if operation in ("view", "reshape"):
        return "shape", column.text_input(t("shapes.lab_new_shape"), EXAMPLES[operation][1],
                                          key=f"shapes_lab_{operation}_new_shape", help=t("shapes.lab_new_shape_help"))
    if operation == "bmm":
        return "shape", column.text_input(t("shapes.lab_second_shape"), EXAMPLES["bmm"][1],
                                          key="shapes_lab_bmm_second_shape", help=t("shapes.lab_second_shape_help"))
    if operation == "flatten":
        return "none", None
    if operation == "squeeze" and column.checkbox(t("shapes.lab_squeeze_all"), key="shapes_lab_squeeze_all"):
        return "none", None
    limit = MAX_LAB_DIMENSIONS + 1  # unsqueeze may add one past the end; wrong dims get PyTorch's refusal
    return "dim", int(column.number_input(t("shapes.lab_dim"), -limit, limit, 0, key=f"shapes_lab_{operation}_dim",
                                          help=t("shapes.lab_dim_help")))


def tensor_lab_section() -> None:
    st.header(t("shapes.lab_heading"))
    st.write(t("shapes.lab_intro"))
    names = {operation: t(f"shapes.lab_op_{operation}") for operation in TENSOR_OPERATIONS}
    operation = st.radio(t("shapes.lab_operation"), TENSOR_OPERATIONS, format_func=names.get, horizontal=True,
                         key="shapes_lab_operation")
    st.markdown(t(f"shapes.lab_explain_{operation}"))
    left, right = st.columns(2)
    shape_text = left.text_input(t("shapes.lab_shape"), EXAMPLES[operation][0], key=f"shapes_lab_{operation}_shape",
                                 help=t("shapes.lab_shape_help"))
    kind, argument = _argument_widget(operation, right)
    try:
        shape = parse_shape(shape_text)
        if kind == "shape":
            argument = parse_shape(argument, allow_minus_one=operation != "bmm")
        result = tensor_operation(operation, shape, argument)
    except StepError as error:
        st.error(t(f"shapes.lab_error_{error.rule}", **error.values), icon=":material/block:")
        return
    if result.refusal:
        st.markdown(t("shapes.lab_refused"))
        st.code(f"{result.code}\n# {result.refusal}", language="python", wrap_lines=True)
    else:
        st.success(t("shapes.lab_result", shape=" × ".join(map(str, result.shape)) or "()"), icon=":material/check:")
        st.code(f"{result.code}.shape\n# torch.Size({list(result.shape)})", language="python", wrap_lines=True)
