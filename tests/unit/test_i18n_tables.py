"""The locale tables agree: same keys, same {placeholders}, and every literal t("...") key exists."""

import re
import string

import pytest

from tests.conftest import ROOT
from ui.i18n import DEFAULT_LANGUAGE, languages, strings
from ui.session import ModelStatus

OTHER_LANGUAGES = [code for code in languages() if code != DEFAULT_LANGUAGE]
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def source_files():
    yield ROOT / "app.py"
    for folder in ("pages", "ui"):
        yield from sorted((ROOT / folder).glob("*.py"))


def test_there_is_more_than_one_language():
    assert OTHER_LANGUAGES, "locales/ should hold at least en.toml and zh.toml"


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_same_keys_as_english(language):
    english, other = set(strings(DEFAULT_LANGUAGE)), set(strings(language))
    assert sorted(english - other) == [], f"keys missing from {language}.toml"
    assert sorted(other - english) == [], f"keys in {language}.toml but not in en.toml"


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_same_placeholders_as_english(language):
    english, other = strings(DEFAULT_LANGUAGE), strings(language)
    differing = {
        key: (placeholders(english[key]), placeholders(other[key]))
        for key in english.keys() & other.keys()
        if placeholders(english[key]) != placeholders(other[key])
    }
    assert differing == {}


@pytest.mark.parametrize("language", list(languages()))
def test_no_empty_strings(language):
    assert [key for key, text in strings(language).items() if not str(text).strip()] == []


def test_every_literal_key_in_the_code_exists():
    english = strings(DEFAULT_LANGUAGE)
    missing = {
        f"{path.relative_to(ROOT)}: {key}"
        for path in source_files()
        for key in LITERAL_KEY.findall(path.read_text(encoding="utf-8"))
        if key not in english
    }
    assert sorted(missing) == []


def test_the_pattern_finds_keys():
    assert LITERAL_KEY.findall('st.title(t("dataset.title")); t(\'app.data_counts\', n=1)') == [
        "dataset.title",
        "app.data_counts",
    ]


def test_keys_built_at_run_time_exist():
    """Keys the code assembles with f-strings, which the literal scan above cannot see."""
    from mnist_core.data import SKIPPED_CACHE, SKIPPED_DOWNLOAD, SKIPPED_FOLDER, SOURCE_DOWNLOAD, SOURCE_EMBEDDED, SOURCE_FOLDER
    from ui.navigation import PAGES

    built = [entry.title_key for entry in PAGES]
    built += [f"home.teaches_{entry.section}" for entry in PAGES if entry.url_path]  # home lists the others
    built += [f"app.source_{source}" for source in (SOURCE_FOLDER, SOURCE_DOWNLOAD, SOURCE_EMBEDDED)]
    built += [f"app.skipped_{source}" for source in (SKIPPED_FOLDER, SKIPPED_CACHE, SKIPPED_DOWNLOAD)]
    built += [f"app.device_{kind}" for kind in ("cpu", "cuda", "mps")]
    built += [f"app.model_{status}" for status in ModelStatus]
    built += [f"dataset.split_{split}" for split in ("train", "test")]
    english = strings(DEFAULT_LANGUAGE)
    assert [key for key in built if key not in english] == []
