"""`bot.py logs`: `-n N` prints exactly the last N lines of the stream, and a symbol no account
of a several-account config trades is the one-line error at once, also with `-f` (which waits
only for a stream the bot writes). Found by the shutdown/logs mutation audit: `tail(path,
lines + 1)` in runtime/logs_cli.py and dropping the several-account "not traded by any account"
refusal both passed every test; the second made `logs NOPE/USDT:USDT -f` wait
for ever for a file no bot writes. Real `bot.py` subprocesses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BTC_LOG = "BTC_USDT_USDT.log"


def _logs(*args: str, config: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "bot.py"), "logs", *args, "--config", config,
         "--data-dir", str(data_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )


@pytest.mark.parametrize("n", [1, 3])
def test_logs_n_prints_exactly_the_last_n_lines(tmp_path: Path, n: int) -> None:
    (tmp_path / "logs").mkdir()
    lines = [f"line {i}" for i in range(1, 11)]
    (tmp_path / "logs" / BTC_LOG).write_text("".join(f"{line}\n" for line in lines))
    done = _logs("BTC/USDT:USDT", "-n", str(n), config=str(REPO / "config.toml"),
                 data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == lines[-n:]


@pytest.mark.parametrize("follow", [[], ["-f"]])
def test_a_symbol_no_account_trades_is_one_line_also_with_follow(tmp_path: Path,
                                                                  follow: list[str]) -> None:
    done = _logs("NOPE/USDT:USDT", *follow,
                 config=str(REPO / "examples" / "multi_account.toml"), data_dir=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == [
        "bot.py: error: 'NOPE/USDT:USDT' is not traded by any account in the config"], done.stderr
