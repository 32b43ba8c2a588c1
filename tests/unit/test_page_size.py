"""Pages stay thin: widgets, a call into mnist_core, drawing. A page that outgrows this moves sections into ui/."""

from pathlib import Path

import pytest

from ui.navigation import PAGES

ROOT = Path(__file__).resolve().parents[2]
MAX_PAGE_LINES = 250  # about one screenful of sections; issue 16's limit


@pytest.mark.parametrize("page", ["app.py", *(entry.file for entry in PAGES)])
def test_page_file_is_at_most_250_lines(page):
    lines = len((ROOT / page).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_PAGE_LINES, f"{page} has {lines} lines; move sections into ui/ (limit {MAX_PAGE_LINES})"


def test_every_page_file_is_in_the_navigation_table():
    """So the size check above cannot miss a page added without an entry."""
    on_disk = {f"pages/{path.name}" for path in (ROOT / "pages").glob("*.py")}
    assert on_disk == {entry.file for entry in PAGES}
