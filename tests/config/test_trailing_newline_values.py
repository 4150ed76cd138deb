"""A config value with a trailing line break ("BTC/USDT:USDT\\n", a TOML escape or a multi-line
string) is refused at start in one line naming the key, as any other malformed value.

Found by running `bot.py` on such a file: config/types.py matched symbols and environment
variable names with `re.match` and a `$` anchor, and Python's `$` also matches before a final
"\\n". So `symbols.list = ["BTC/USDT:USDT\\n"]` passed, and the bot started and crash-looped that
symbol's actor (`actor failed in spawn: ValueError: ... use a shorter account name than
'main'`, a restart every half second); `dashboard.token_env = "BOT_DASHBOARD_TOKEN\\n"` passed and
the dashboard ran read-only, "no token configured", with the token set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, text: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.toml"
    config.write_text(text)
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           "--data-dir", str(tmp_path / "data"), "--duration", "3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("symbol", [r"BTC/USDT:USDT\n", '''BTC/USDT:USDT
'''])
def test_a_symbol_with_a_trailing_line_break_is_refused(tmp_path, symbol):
    quoted = f'"{symbol}"' if "\n" not in symbol else f'"""{symbol}"""'
    done = _run(tmp_path, "[dashboard]\nenabled = false\n[logging]\nconsole = false\n"
                          f"[symbols]\nlist = [{quoted}]\n")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"bot.py: error: {tmp_path / 'c.toml'}:6: symbols.list[0]: "
                                  "must be a ccxt linear perpetual"), done.stderr


def test_an_environment_variable_name_with_a_trailing_line_break_is_refused(tmp_path):
    done = _run(tmp_path, '[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
                          '[dashboard]\nport = 0\ntoken_env = "BOT_DASHBOARD_TOKEN\\n"\n',
                env={"BOT_DASHBOARD_TOKEN": "a-token-of-twenty-chars"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"bot.py: error: {tmp_path / 'c.toml'}:7: dashboard.token_env: "
                                  "must be the name of an environment variable"), done.stderr
    assert "a-token-of-twenty-chars" not in done.stderr
