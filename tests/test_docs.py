"""The documentation is checkable from the repository alone.

* every relative link of README.md, benchmarks/README.md and docs/**/*.md names a file that git
  tracks (so a fresh clone has the evidence a document points to);
* no tracked source, document or result file points outside the repository: no sibling folders,
  no external design notes, no absolute paths of the machine that produced it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: documents whose links must resolve, and the folder whose every .md file is checked too
LINKED_DOCUMENTS = ("README.md", "benchmarks/README.md")
LINKED_FOLDER = "docs/"

#: text that points outside the repository (split so that this file does not match itself)
OUTSIDE = ("../" + "shared", "DESIGN" + " §", "DESIGN" + ".md", "/" + "work/", "/" + "home/", "/" + "Users/")
SCANNED_SUFFIXES = (".py", ".md", ".json", ".csv", ".yaml", ".yml", ".toml", ".txt")

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout ({exc}); tracked files cannot be listed")
    return [p for p in out.decode().split("\0") if p]


def markdown_links(text: str) -> list[str]:
    """Link targets of inline links, images and reference definitions, outside code."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return _INLINE.findall(text) + _REFERENCE.findall(text)


def broken_links(document: str, text: str, tracked: set[str]) -> list[str]:
    """The relative links of ``document`` (a repository path) that name no tracked file."""
    tracked_dirs = {str(parent) for path in tracked for parent in PurePosixPath(path).parents}
    broken = []
    for target in markdown_links(text):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not path or _SCHEME.match(path):
            continue  # anchors in the same page, http(s):, mailto:
        if path.startswith("/"):
            broken.append(f"{target} (absolute path)")
            continue
        parts: list[str] = []
        for part in (PurePosixPath(document).parent / path).parts:
            if part == "..":
                if not parts:
                    parts = ["<outside>"]
                    break
                parts.pop()
            elif part != ".":
                parts.append(part)
        resolved = "/".join(parts) or "."
        if parts[:1] == ["<outside>"]:
            broken.append(f"{target} (outside the repository)")
        elif resolved not in tracked and resolved.rstrip("/") not in tracked_dirs:
            broken.append(f"{target} (not tracked: {resolved})")
    return broken


def _documents(tracked: list[str]) -> list[str]:
    return sorted(p for p in tracked if p in LINKED_DOCUMENTS or (p.startswith(LINKED_FOLDER) and p.endswith(".md")))


def test_documents_exist():
    documents = _documents(_tracked())
    assert {"README.md", "benchmarks/README.md", "docs/design.md"} <= set(documents)


def test_every_relative_link_names_a_tracked_file():
    tracked = _tracked()
    tracked_set = set(tracked)
    problems = []
    for document in _documents(tracked):
        text = (ROOT / document).read_text(encoding="utf-8")
        problems += [f"{document}: {b}" for b in broken_links(document, text, tracked_set)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_nothing_tracked_points_outside_the_repository():
    problems = []
    for path in _tracked():
        if not path.endswith(SCANNED_SUFFIXES) or not (ROOT / path).is_file():
            continue
        text = (ROOT / path).read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            problems += [f"{path}:{lineno}: {needle!r}" for needle in OUTSIDE if needle in line]
    assert not problems, "pointers outside the repository:\n" + "\n".join(problems[:50])


# The checker itself, on small documents: it must find what it is meant to find.

TRACKED = {"README.md", "docs/design.md", "docs/run/report.md", "benchmarks/README.md",
           "benchmarks/results/a.md"}


@pytest.mark.parametrize("document, text, expected", [
    ("README.md", "[d](docs/design.md) ![p](docs/run/report.md \"t\") [b](benchmarks/)", []),
    ("README.md", "[d](docs/design.md#4-energy) [w](https://example.org/x.md) [a](#usage) [m](mailto:a@b)", []),
    ("benchmarks/README.md", "[r](results/a.md) [up](../README.md) [s](./results/a.md)", []),
    ("benchmarks/README.md", "[r](results/missing.md)",
     ["results/missing.md (not tracked: benchmarks/results/missing.md)"]),
    ("README.md", "[x](../elsewhere/notes.md)", ["../elsewhere/notes.md (outside the repository)"]),
    ("README.md", "[x](/etc/passwd)", ["/etc/passwd (absolute path)"]),
    ("README.md", "[ref]: docs/nothing.md", ["docs/nothing.md (not tracked: docs/nothing.md)"]),
    ("README.md", "`[x](gone.md)`\n```\n[y](gone.md)\n```\n", []),
])
def test_link_checker(document, text, expected):
    assert broken_links(document, text, TRACKED) == expected
