"""The documentation a newcomer reads: short README, no dead `.md` references, no process noise.

- Every markdown path cited in code (`connector/`, `adapters/`, `migrations/`, `tests/`,
  `scripts/`, `deploy/`, `Makefile`) exists relative to the repository root. A vendor fact is
  written down in `docs/vendors/`, so citing a file that lives outside the repository fails.
- Every markdown path cited in README.md and docs (bare paths, and the targets of markdown links,
  with their `#anchors`) exists: link targets relative to the citing file, bare paths relative to
  the repository root or to the citing file.
- README.md stays at most 150 lines and keeps the two commands.
- README.md and docs/ carry no references to our issue tracker.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE_ROOTS = ("connector", "adapters", "migrations", "tests", "scripts", "deploy", "Makefile")
SKIP_DIRS = {"__pycache__", ".pytest_cache", "node_modules"}
MAX_TEXT_BYTES = 2_000_000
README_MAX_LINES = 150

URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s)>\]`'\"]+")
# a path ending in .md: optional ./ or ../ prefixes, then names joined by slashes
MD_PATH = re.compile(r"(?<![\w./-])((?:\.{1,2}/)*[\w.-]*\w(?:/[\w.-]+)*\.md)(?![\w/-])")
MD_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ISSUE_REF = re.compile(r"\bissue\s*#\s*\d+", re.IGNORECASE)


def cited_md_paths(text: str) -> list[str]:
    """Markdown file paths mentioned in ``text``, URLs left out."""
    return MD_PATH.findall(URL.sub(" ", text))


def markdown_link_targets(text: str) -> list[str]:
    """Targets of ``[text](target)`` links that are not URLs or pure anchors."""
    targets = []
    for target in MD_LINK.findall(text):
        if URL.match(target) or target.startswith(("mailto:", "#")):
            continue
        targets.append(target)
    return targets


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.replace("`", "").strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen, in_fence = set(), {}, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def text_files(*roots: str):
    for name in roots:
        top = ROOT / name
        paths = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in paths:
            if not path.is_file() or SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
                continue
            if path.stat().st_size > MAX_TEXT_BYTES:
                continue
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary (model weights, images)


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --- the extraction itself can fail ------------------------------------------------------------
def test_path_extraction_finds_what_it_should_and_nothing_else():
    missing = "docs/not-there" + ".md"
    sample = (
        "See " + missing + " (section 2), `docs/vendors/zendesk" + ".md`, ../LABELLING" + ".md, "
        "NOTES" + ".md; not https://example.com/guide" + ".md nor docs/x" + ".mdx nor a.md5sum."
    )
    assert cited_md_paths(sample) == [
        missing,
        "docs/vendors/zendesk" + ".md",
        "../LABELLING" + ".md",
        "NOTES" + ".md",
    ]
    links = "[a](QUALITY" + ".md#calibration) [b](https://x.org/y" + ".md) [c](#local) [d](x.py)"
    assert markdown_link_targets(links) == ["QUALITY" + ".md#calibration", "x.py"]
    assert slug("Admin dashboard (`/admin`)") == "admin-dashboard-admin"
    assert slug("A store's own model") == "a-stores-own-model"
    assert not (ROOT / missing).exists()  # so a citation like the sample's first one would fail


# --- (a) cited markdown files exist ------------------------------------------------------------
def test_every_md_path_cited_in_code_exists():
    dead = []
    for path, text in text_files(*CODE_ROOTS):
        for cited in cited_md_paths(text):
            if not ((ROOT / cited).is_file() or (path.parent / cited).is_file()):
                dead.append(f"{rel(path)}: {cited}")
    dead = sorted(set(dead))
    assert not dead, "cited .md files that do not exist in the repository:\n" + "\n".join(dead)


def test_every_md_path_and_link_cited_in_docs_exists():
    dead = []
    for doc in doc_files():
        text = doc.read_text(encoding="utf-8")
        for cited in cited_md_paths(text):
            if not ((ROOT / cited).is_file() or (doc.parent / cited).is_file()):
                dead.append(f"{rel(doc)}: {cited}")
        for target in markdown_link_targets(text):
            file_part, _, anchor = target.partition("#")
            resolved = (
                (ROOT / file_part.lstrip("/"))
                if file_part.startswith("/")
                else (doc.parent / file_part)
            )
            if not resolved.exists():
                dead.append(f"{rel(doc)}: link {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                dead.append(f"{rel(doc)}: link {target} (no such heading)")
    dead = sorted(set(dead))
    assert not dead, "dead references in README.md and docs/:\n" + "\n".join(dead)


# --- (b) a short README with the two commands -----------------------------------------------
def test_readme_is_short_and_has_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, "README.md: move detail into docs/"
    assert "make demo" in text and "make test" in text


# --- (c) no issue-tracker references ------------------------------------------------------
@pytest.mark.parametrize("doc", doc_files(), ids=rel)
def test_docs_do_not_cite_issue_numbers(doc):
    hits = [
        f"{rel(doc)}:{n}: {line.strip()}"
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if ISSUE_REF.search(line)
    ]
    assert not hits, "say what the thing does instead of citing an issue:\n" + "\n".join(hits)
