"""The app's pages, in one table read by the router (app.py) and by the tests that open every page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    file: str  # relative to app.py
    section: str  # its [section] in locales/*.toml; the title is "<section>.title"
    icon: str  # Material Symbols: drawn by Streamlit's own font, no emoji font needed
    url_path: str  # "" is the home page

    @property
    def title_key(self) -> str:
        return f"{self.section}.title"


PAGES = (
    PageEntry("pages/home.py", "home", ":material/home:", ""),
    PageEntry("pages/dataset.py", "dataset", ":material/grid_view:", "dataset"),
    PageEntry("pages/shapes.py", "shapes", ":material/straighten:", "shapes"),
    PageEntry("pages/train.py", "train", ":material/model_training:", "train"),
    PageEntry("pages/draw.py", "draw", ":material/draw:", "draw"),
)
