"""storage.path and paper.store that can be neither opened nor created (a folder there, or a file
where one of their folders should be) are refused in one line naming the key, by every command
(found by review: `run` said "cannot open the lock file (File exists)" naming no key, and
`signal` "unexpected FileExistsError in signal")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.refusals import refused, unlined

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, section: str, key: str, value: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\ndata_dir = "data"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                    f'[{section}]\n{key} = "{value}"\n')
    return path


def bot(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(path), *args],
                          cwd=path.parent, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("section", "key"), [("storage", "path"), ("paper", "store")])
def test_a_file_where_the_folder_should_be(tmp_path: Path, section: str, key: str):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    database = blocker / "x.sqlite"
    path = write(tmp_path, section, key, database)
    line = f"{section}.{key}: cannot create {database}: {blocker} is not a directory"
    assert refused(path) == f"{path}: {line}"
    for args in (("signal", "BTC/USDT:USDT", "long"), ("--duration", "5")):
        result = bot(path, *args)
        assert (result.returncode, unlined(result.stderr)) == (
            2, f"bot.py: error: {path}: {line}\n")
    assert not (tmp_path / "data" / "logs" / "commands.log").exists()  # nothing unexpected


def test_a_folder_where_the_database_should_be(tmp_path: Path):
    folder = tmp_path / "db"
    folder.mkdir()
    path = write(tmp_path, "storage", "path", folder)
    line = f"storage.path: {folder} is a directory, expected a database file"
    assert refused(path) == f"{path}: {line}"
    result = bot(path, "--duration", "5")
    assert (result.returncode, unlined(result.stderr)) == (2, f"bot.py: error: {path}: {line}\n")


def test_a_database_in_a_folder_not_made_yet_is_fine(tmp_path: Path):
    from config import load_settings

    path = write(tmp_path, "storage", "path", tmp_path / "later" / "bot.sqlite")
    assert load_settings(path).storage.path.endswith("later/bot.sqlite")
