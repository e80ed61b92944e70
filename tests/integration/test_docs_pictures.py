"""The README's pictures are current: docs/architecture.svg is what docs/render.sh draws from
docs/architecture.dot (Graphviz's dot; `tests/services/services.sh install graphviz`), and the
README shows both pictures. docs/console.png is written by the console's browser test with
SLUICE_CONSOLE_DOCS=1."""

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_architecture_svg_is_rendered_from_its_dot_source():
    assert shutil.which("dot"), "dot is missing: run tests/services/services.sh install graphviz"
    run = subprocess.run([str(REPO / "docs" / "render.sh"), "--check"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_the_readme_shows_both_pictures():
    readme = (REPO / "README.md").read_text()
    for picture in ("docs/architecture.svg", "docs/console.png"):
        assert f"]({picture})" in readme, f"README.md does not show {picture}"
        assert (REPO / picture).stat().st_size > 1000, picture
    assert (REPO / "docs" / "console.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
