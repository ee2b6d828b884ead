"""The documentation stays true to the code: every setting documented, nothing documented that no code reads,
no link out of the repository, no broken relative link.

The settings are found by reading ``app/config.py``'s syntax tree, the way ``Settings.from_env`` reads the
environment: ``get("NAME", ...)`` reads ``QZBG_NAME``; ``env.get("QZBG_NAME")`` reads it whole; and
``_all_or_none(get, "PREFIX", names)`` reads ``QZBG_PREFIX_<name>`` for each name of a literal tuple or of a
module-level tuple constant. A ``QZBG_*`` name written in a string of that file that this reading does not find
fails the suite too, so a new way of reading a variable cannot slip past unseen.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "app" / "config.py"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
ELSEWHERE = "## Read outside app/config.py"
NAME = re.compile(r"QZBG_[A-Z0-9_]*[A-Z0-9]")
MENTION = re.compile(r"(QZBG_[A-Z0-9_]*[A-Z0-9])(_\*|_(?![A-Z0-9]))?")  # QZBG_SMS_* or QZBG_SMS_: a prefix
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
# Where a QZBG_* variable can be read: the app, its launchers, the scripts, the tests and the benchmarks.
CODE = ["app", "scripts", "tests", "bench", ".ci", "wsgi.py", "gunicorn.conf.py", "Makefile"]


def _docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "bench" / "README.md"]


def _constants(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """Module-level ``NAME = ("A", "B")`` tuples of strings."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
            items = node.value.elts
            if all(isinstance(item, ast.Constant) and isinstance(item.value, str) for item in items):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = tuple(item.value for item in items)  # type: ignore[attr-defined]
    return found


def _string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def config_settings() -> set[str]:
    """Every ``QZBG_*`` variable ``app/config.py`` reads."""
    tree = ast.parse(CONFIG.read_text(encoding="utf-8"))
    constants = _constants(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = _string(node.args[0])
        func = node.func
        if isinstance(func, ast.Name) and func.id == "get" and first is not None:
            names.add(f"QZBG_{first}")
        elif isinstance(func, ast.Attribute) and func.attr == "get" and first and first.startswith("QZBG_"):
            names.add(first)
        elif isinstance(func, ast.Name) and func.id == "_all_or_none" and len(node.args) == 3:
            prefix, group = _string(node.args[1]), node.args[2]
            if isinstance(group, ast.Name):
                members = constants.get(group.id, ())
            elif isinstance(group, ast.Tuple):
                members = tuple(s for s in map(_string, group.elts) if s is not None)
            else:
                members = ()
            where = f"app/config.py line {node.lineno}: a group of settings this test cannot read"
            assert prefix, where
            assert members, where
            names.update(f"QZBG_{prefix}_{member}" for member in members)
    return names


def _string_literals(path: Path) -> str:
    """The text of every string literal of a Python file (f-strings' constant parts too), comments excluded."""
    parts = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts.append(node.value)
    return "\n".join(parts)


def _doc_sections() -> tuple[str, str]:
    """configuration.md split into (the settings of app/config.py, the variables read elsewhere)."""
    text = CONFIG_DOC.read_text(encoding="utf-8")
    assert ELSEWHERE in text, f"docs/configuration.md lost its section {ELSEWHERE!r}"
    before, after = text.split(ELSEWHERE, 1)
    return before, after


def _table_rows(text: str) -> list[list[str]]:
    """The cells of each table row whose first cell is a `QZBG_*` name."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| `QZBG_"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _documented(text: str) -> set[str]:
    return {row[0].strip("`") for row in _table_rows(text)}


def test_the_config_reader_finds_the_settings_everyone_knows():
    found = config_settings()
    for name in ("QZBG_DATABASE_URL", "QZBG_SECRET_KEY", "QZBG_INSTANCE_PATH", "QZBG_STEP_UP_MINUTES",
                 "QZBG_SMS_SECRET_ID", "QZBG_WECOM_CORPID", "QZBG_NOTIFY_POLL_MS"):
        assert name in found


def test_every_qzbg_name_written_in_config_py_is_one_it_reads():
    written = set(NAME.findall(_string_literals(CONFIG)))
    unread = written - config_settings()
    assert not unread, f"app/config.py names {sorted(unread)} but this test does not see them read: teach it how"


def test_every_setting_of_config_py_is_documented():
    settings, _ = _doc_sections()
    missing = config_settings() - _documented(settings)
    assert not missing, f"docs/configuration.md does not document {sorted(missing)}"


def test_every_documented_setting_is_read_by_config_py():
    settings, _ = _doc_sections()
    unknown = _documented(settings) - config_settings()
    assert not unknown, f"docs/configuration.md documents {sorted(unknown)}, which app/config.py does not read"


def test_every_variable_documented_as_read_elsewhere_is_read_by_the_file_it_names():
    _, elsewhere = _doc_sections()
    rows = _table_rows(elsewhere)
    assert rows
    for row in rows:
        name, readers = row[0].strip("`"), re.findall(r"`([^`]+)`", row[1])
        assert readers, f"{name}: the row names no file that reads it"
        assert name not in config_settings(), f"{name} is read by app/config.py: document it above {ELSEWHERE!r}"
        for reader in readers:
            assert name in (ROOT / reader).read_text(encoding="utf-8"), f"{reader} does not read {name}"


def _code_text() -> str:
    parts = []
    for entry in CODE:
        path = ROOT / entry
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.suffix in
                                               ("", ".py", ".sh", ".cfg", ".toml", ".ini")]
        parts.extend(f.read_text(encoding="utf-8", errors="replace") for f in files)
    return "\n".join(parts)


def test_every_qzbg_variable_a_document_mentions_exists_in_the_code():
    known = set(NAME.findall(_code_text())) | config_settings()  # config.py reads most by their suffix
    for doc in _docs():
        for name, wildcard in MENTION.findall(doc.read_text(encoding="utf-8")):
            if wildcard:
                assert any(k.startswith(name + "_") for k in known), f"{doc.name}: no variable matches {name}_*"
            else:
                assert name in known, f"{doc.relative_to(ROOT)} mentions {name}, which no code reads"


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_document_links_out_of_the_repository_into_shared(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../shared/" not in text, f"{doc.name} points into ../shared/: the repository must stand alone"
    assert "/work/shared" not in text, f"{doc.name} points into /work/shared: the repository must stand alone"


def _links(doc: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)  # code blocks hold no links
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_of_the_repository(doc):
    for link in _links(doc):
        if re.match(r"[a-z]+:", link) or link.startswith("#"):
            continue
        target = (doc.parent / link.split("#", 1)[0]).resolve()
        assert target.is_relative_to(ROOT), f"{doc.name}: {link} leaves the repository"
        assert target.exists(), f"{doc.name}: {link} points at nothing"


def test_the_readme_fits_on_one_screen():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 60, f"README.md has {len(lines)} lines; the details belong in docs/"


def test_the_staff_guide_shows_only_pictures_that_exist():
    guide = ROOT / "docs" / "staff-guide.md"
    images = [link for link in _links(guide) if link.endswith(".png")]
    assert images, "the staff guide shows no screenshot"
    for link in images:
        assert (guide.parent / link).is_file(), link
