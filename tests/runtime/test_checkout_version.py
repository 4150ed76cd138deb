"""INCIDENTS rule 12: the status names the code that runs. Two different uncommitted edits of
one commit must not show the same version (found by review: two nodes both showed
`5bf0965-dirty`). A real git repository in a temp folder."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from runtime.wiring import checkout_version, running_version


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.invalid",
                           "-c", "user.name=t", *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_each_uncommitted_edit_has_its_own_version(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "bot.py").write_text("print(1)\n")
    _git(tmp_path, "add", "bot.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "--short", "HEAD")
    assert checkout_version(tmp_path) == head
    (tmp_path / "bot.py").write_text("print(2)\n")
    first = checkout_version(tmp_path)
    (tmp_path / "bot.py").write_text("print(3)\n")
    second = checkout_version(tmp_path)
    assert first.startswith(f"{head}-dirty.") and second.startswith(f"{head}-dirty.")
    assert first != second
    (tmp_path / "bot.py").write_text("print(2)\n")
    assert checkout_version(tmp_path) == first  # the same edit, the same version
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert checkout_version(tmp_path) == first  # untracked files are not the running code


def test_outside_a_checkout(tmp_path):
    assert checkout_version(tmp_path) == "0.1.0"


def test_a_version_label_does_not_hide_the_running_commit(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "bot.py").write_text("print(1)\n")
    _git(tmp_path, "add", "bot.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "--short", "HEAD")
    labelled: Any = SimpleNamespace(bot=SimpleNamespace(version="v1.2"))  # (only bot.version)
    assert running_version(labelled, tmp_path) == f"v1.2 ({head})"
    (tmp_path / "bot.py").write_text("print(2)\n")  # the label stayed, the code changed
    assert running_version(labelled, tmp_path).startswith(f"v1.2 ({head}-dirty.")
    assert running_version(SimpleNamespace(bot=SimpleNamespace(version="")), tmp_path)  # type: ignore[arg-type].startswith(f"{head}-dirty.")


def test_outside_a_checkout_the_label_alone(tmp_path):
    labelled: Any = SimpleNamespace(bot=SimpleNamespace(version="v1.2"))
    assert running_version(labelled, tmp_path) == "v1.2"
