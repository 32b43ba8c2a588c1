"""Every word a page shows in Chinese comes from the locale table, not from a string left in the code.

Each page is rendered with AppTest in Chinese, once fresh and once with a trained model in the
session (so the training page's results and the drawing page's model views appear too). Every
text the user can see is collected: markdown, titles, captions, alerts, widget labels, options and
help, metric labels, table headers, and Plotly titles, axis labels, trace names and hover
templates. Chinese text has no business containing English words, so any run of Latin letters
that is not a name the Chinese textbooks keep as it is (MNIST, PyTorch, ReLU, conv1, ...) fails.
"""

from __future__ import annotations

import json
import re

import pytest
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from tests.apptest.app import open_page
from ui.navigation import PAGES

# Names a Chinese deep-learning text writes in Latin letters: products, libraries, layer and function
# names from the code, file formats, and the padding modes' own names ("valid", "same").
KEPT_AS_IS = {
    "MNIST", "PyTorch", "CNN", "SGD", "ReLU", "relu", "NLL", "nll_loss", "Dropout", "Dropout2d", "dropout",
    "log_softmax", "softmax", "Net", "Normalize", "ToTensor", "torchvision", "mlxtend", "Plotly", "Streamlit",
    "IDX", "CPU", "GPU", "CUDA", "MPS", "PNG", "JPEG", "JSON", "URL", "conv", "conv1", "conv2", "pool",
    "fc1", "fc2", "view", "nn", "Conv2d", "MaxPool2d", "max_pool2d", "valid", "same", "floor", "ceil",
    "ceil_mode", "English", "mnist_core", "MNIST_DATA_DIR", "DATA_DIR", "make", "run", "python", "streamlit",
    "checkpoints", "epoch", "epochs", "batch", "Fashion", "cuda", "cpu", "mps", "auto", "torch", "Size",
    "C_in", "C_out",
    # the network lab's torch.nn layer types and optimizers, named as the code and the JSON name them
    "Linear", "Flatten", "BatchNorm2d", "LeakyReLU", "AvgPool2d", "AdaptiveAvgPool2d", "Adam", "AdamW",
}
# A textbook may give the English term after the Chinese one, in full-width parentheses: 真实标签（ground truth）.
ENGLISH_GLOSS = re.compile(r"(?<=[\u4e00-\u9fff])（[A-Za-z][A-Za-z \-]*）")
PLOTLY_TEXT_KEYS = {"text", "name", "hovertemplate", "texttemplate", "ticktext"}
PROTO_TEXT_KEYS = {"label", "body", "help", "placeholder", "options", "caption", "title", "delta"}


def plotly_texts(spec: str) -> list[str]:
    found: list[str] = []

    def grab(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in PLOTLY_TEXT_KEYS:
                    found.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
                elif key not in ("x", "y", "z", "customdata", "colorscale"):
                    grab(value)
        elif isinstance(node, list):
            for value in node:
                grab(value)

    figure = json.loads(spec)
    grab(figure.get("layout", {}))
    grab(figure.get("data", []))
    return found


def visible_texts(node, found: list[str]) -> list[str]:
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "DESCRIPTOR"):
        fields = MessageToDict(proto)
        if "spec" in fields:  # a Plotly figure's JSON
            found.extend(plotly_texts(fields["spec"]))
        if type(node).__name__ == "Latex" or fields.get("isLatex"):
            fields = {}  # formulas are mathematics, not words
        for key, value in fields.items():
            if key in PROTO_TEXT_KEYS:
                found.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
        for image in fields.get("imgs", []):
            found.append(image.get("caption", ""))
    if type(node).__name__ in ("Dataframe", "Table"):
        found.extend(str(column) for column in node.value.columns)
    children = getattr(node, "children", None) or {}
    for child in (children.values() if isinstance(children, dict) else children):
        visible_texts(child, found)
    return found


def english_words(text: str) -> set[str]:
    text = ENGLISH_GLOSS.sub(" ", text)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)  # code blocks: commands are typed as they are
    text = re.sub(r"`[^`]*`", " ", text)  # inline code
    text = re.sub(r"\$[^$]*\$", " ", text)  # inline LaTeX
    text = re.sub(r"%\{[^}]*\}|<[^>]*>|&\w+;", " ", text)  # Plotly placeholders, HTML tags and entities
    text = re.sub(r"https?://\S+|\S+\.(?:py|pt|toml|gz)\b", " ", text)  # addresses and file names
    return {word for word in re.findall(r"[A-Za-z][A-Za-z0-9_]{2,}", text) if word not in KEPT_AS_IS}


def render_in_chinese(page_file: str, token: str | None = None) -> AppTest:
    return open_page(page_file, "zh", token)


def untranslated(app: AppTest) -> dict[str, set[str]]:
    texts = visible_texts(app._tree, [])
    assert texts, "no text was collected: the walk over the element tree is broken"
    return {text: words for text in texts if (words := english_words(text))}


@pytest.mark.parametrize("entry", PAGES, ids=[entry.section for entry in PAGES])
def test_fresh_page_shows_no_english_in_chinese(entry):
    assert untranslated(render_in_chinese(entry.file)) == {}


@pytest.mark.parametrize("entry", [e for e in PAGES if e.section in ("train", "draw")], ids=lambda e: e.section)
def test_page_with_a_trained_model_shows_no_english_in_chinese(entry, trained_token):
    assert untranslated(render_in_chinese(entry.file, trained_token)) == {}


def test_the_check_catches_english():
    """The detector itself: an English sentence on a Chinese page is reported."""
    assert english_words("训练 the model 的损失") == {"the", "model"}
    assert english_words("`python -m mnist_core train` 和 conv1、ReLU") == set()
    assert english_words("真实标签（ground truth）") == set()
    assert english_words("标签（ground truth is here）的") == set()  # a gloss, however long
    assert english_words("标签 (ground truth)") == {"ground", "truth"}  # not a gloss: no full-width parentheses
