"""User-facing text, one TOML file per language in locales/.

Adding a language means adding one file, locales/<code>.toml, with a [meta] name.
Keys are "section.name", where the section is the page (or "common", "app").
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

import streamlit as st

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "language"  # st.session_state key holding the chosen language code
# The sidebar's language box has a key of its own. Its label is in the chosen language, and Streamlit gives a
# widget a new identity when its label changes; a new widget starts from its default. With the choice kept in
# the widget's own key, switching to 中文 could switch straight back (seen in the browser tests).
LANGUAGE_BOX_KEY = "language_box"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


@lru_cache(maxsize=None)
def strings(language: str) -> dict[str, str]:
    """All strings of one language, keyed "section.name"."""
    with open(LOCALES_DIR / f"{language}.toml", "rb") as f:
        return _flatten(tomllib.load(f))


@lru_cache(maxsize=None)
def languages() -> dict[str, str]:
    """Language code -> its own name ("en" -> "English"), English first."""
    codes = sorted(p.stem for p in LOCALES_DIR.glob("*.toml"))
    codes.sort(key=lambda code: code != DEFAULT_LANGUAGE)
    return {code: strings(code)["meta.name"] for code in codes}


def browser_language() -> str:
    """The browser's language if we have it, else English."""
    try:
        locale = (st.context.locale or "").lower()
    except Exception:  # no browser context (AppTest, bare mode)
        locale = ""
    for code in languages():
        if locale == code or locale.startswith(code + "-"):
            return code
    return DEFAULT_LANGUAGE


def current_language() -> str:
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = browser_language()
    return st.session_state[LANGUAGE_KEY]


def _remember_language() -> None:
    st.session_state[LANGUAGE_KEY] = st.session_state[LANGUAGE_BOX_KEY]


def language_box() -> None:
    """The language selectbox (app.py draws it in the sidebar); it opens on the session's language."""
    names = languages()
    codes = list(names)
    st.selectbox(t("app.language"), codes, index=codes.index(current_language()), format_func=names.get,
                 key=LANGUAGE_BOX_KEY, on_change=_remember_language, help=t("app.language_help"))


def t(key: str, **values) -> str:
    """The text for key in the session's language, with {placeholders} filled from values."""
    text = strings(current_language()).get(key)
    if text is None:
        text = strings(DEFAULT_LANGUAGE)[key]  # a missing key is a bug the parity test catches
    return text.format(**values) if values else text


def percent(fraction: float | None) -> str:
    """An accuracy as the pages write it, "81.2%"; "—" before any test."""
    return "—" if fraction is None else f"{fraction:.1%}"
