"""Every file of this repository that the code, data, docs or tests cite exists, and nothing
cites notes outside the repository: a reader must be able to open every citation."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCANNED = ("ptcalc", "models", "docs", "validation", "tests", "benchmarks", "notebooks")
SUFFIXES = (".py", ".md", ".toml", ".json", ".ipynb")
# A path into the repository, not the tail of a URL or of another path (lookbehind).
REPO_PATH = re.compile(r"(?<![\w./:-])((?:docs|validation|models|tests|benchmarks|notebooks"
                       r"|ptcalc|\.ci)/[A-Za-z0-9_./-]*[A-Za-z0-9_])")
OUTSIDE = re.compile(r"(?<![\w/])\.\./shared|(?<![\w_])shared/(?:DESIGN|research)|"
                     r"\bissue #?\d+\b", re.IGNORECASE)


def scanned_files():
    """README and every text file of the scanned folders but this one (its examples)."""
    this = pathlib.Path(__file__).resolve()
    yield ROOT / "README.md"
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*"):
            if (path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts
                    and path != this):
                yield path


def test_every_cited_repository_file_exists():
    missing = {}
    for path in scanned_files():
        for match in REPO_PATH.finditer(path.read_text(errors="replace")):
            cited = match.group(1).rstrip(".")
            if not (ROOT / cited).exists():
                missing.setdefault(cited, str(path.relative_to(ROOT)))
    assert not missing, f"cited but not in the repository (citation: first file): {missing}"


def test_the_scan_finds_citations_and_would_catch_a_missing_one():
    # guards the regex: real citations are found, URL tails are not, a wrong path is caught
    text = ("see docs/model.md and https://www.postgresql.org/docs/current/kernel.html "
            "and validation/no-such-record.json")
    found = [m.group(1) for m in REPO_PATH.finditer(text)]
    assert found == ["docs/model.md", "validation/no-such-record.json"]
    assert (ROOT / found[0]).exists() and not (ROOT / found[1]).exists()


def test_nothing_cites_notes_outside_the_repository():
    hits = [f"{path.relative_to(ROOT)}:{n}" for path in scanned_files()
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
            if OUTSIDE.search(line)]
    assert not hits, hits
