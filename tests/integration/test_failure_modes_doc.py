"""FAILURE-MODES.md names the tests that prove each automated scenario. Every such reference,
`tests/integration/<file>.py::<test>`, must point at a file that exists and defines that test, so
renaming or removing a test breaks this check instead of leaving the document silently wrong.

Needs no services: it reads files only.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "FAILURE-MODES.md"
REFERENCE = re.compile(r"tests/integration/([A-Za-z0-9_/]+\.py)::([A-Za-z_][A-Za-z0-9_]*)")


def references(text: str) -> list[tuple[str, str]]:
    """Every `(file, test)` the text names, in order, without repeats."""
    return list(dict.fromkeys(REFERENCE.findall(text)))


def defines(source: str, name: str) -> bool:
    """Whether `source` defines a function `name` (at module level or in a class)."""
    return re.search(rf"^\s*(?:async\s+)?def {re.escape(name)}\s*\(", source, re.MULTILINE) is not None


def stale(text: str, root: Path) -> list[str]:
    """The references in `text` that name a missing file or a test that file does not define."""
    problems = []
    for file, name in references(text):
        path = root / "tests" / "integration" / file
        if not path.is_file():
            problems.append(f"tests/integration/{file}::{name}: no such file")
        elif not defines(path.read_text(), name):
            problems.append(f"tests/integration/{file}::{name}: {file} defines no test {name}")
    return problems


def test_every_test_the_failure_modes_document_names_exists():
    text = DOC.read_text()
    found = references(text)
    assert len(found) >= 30, f"only {len(found)} test references found in {DOC.name}; did the format change?"
    assert stale(text, REPO) == []


def test_the_check_catches_a_renamed_test_and_a_missing_file():
    real = "tests/integration/test_distributed.py::test_leader_death_elects_another_and_writes_keep_working"
    assert stale(real, REPO) == []
    renamed = real.replace("test_leader_death", "test_leader_dies")
    assert stale(renamed, REPO) == [
        "tests/integration/test_distributed.py::test_leader_dies_elects_another_and_writes_keep_working: "
        "test_distributed.py defines no test test_leader_dies_elects_another_and_writes_keep_working"
    ]
    missing = "tests/integration/test_no_such_file.py::test_anything"
    assert stale(missing, REPO) == ["tests/integration/test_no_such_file.py::test_anything: no such file"]
