"""A start refused for `supervision.alert_command` names the config file and the key's line, as
every other refusal for what the config says (runtime/startup_error.py StartupConfigError; found
by review: `storage.url: cluster nodes must share ...` named neither). Found by review of the
README's hook claims: the alert_command refusal was printed bare (`bot.py: error:
accounts[1].supervision.alert_command: ...`), so with several accounts and config files the
person had to hunt for the line (the top-level key: tests/runtime/test_bad_input_lines.py).
Real `python bot.py run` subprocesses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.bot_process import ROOT


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config),
                           "--duration", "5"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_an_accounts_own_command_is_located_at_its_own_line(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n"
                      '[[accounts]]\nname = "alpha"\n'
                      '[[accounts]]\nname = "beta"\n'
                      f"supervision.alert_command = '{tmp_path}/gone'\n")
    done = _run(config)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        f"bot.py: error: {config}:13: accounts[1].supervision.alert_command: program "
        f"'{tmp_path}/gone' not found"), done.stderr
