"""`bot.py signal` while the worker running the account is down (SIGKILLed, waiting out its
restart backoff): the command's one line says that worker is down and that its run loop applies
the signal once it runs again, not "the running bot applies it within 0.3 s"; and the restarted
worker does apply it (a protected position), so the line's promise holds. `status` names the
worker down in the same moment, and `logs` of its stream or its account's symbols prints their
last lines and then one stderr line saying that worker is down (real parent and worker
processes, real SIGKILL)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status
from tests.e2e.test_workers import actor, all_running, write_accounts_config

pytestmark = pytest.mark.slow
BACKOFF = "backoff_initial_s = 15\nbackoff_max_s = 15\n"


def test_a_signal_while_its_worker_is_down_says_so_and_is_applied_after_the_restart(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml", BACKOFF)
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        old = s["bot"]["workers"][1]["pid"]  # worker 2 runs beta
        os.kill(old, signal.SIGKILL)
        wait_status(config, data, lambda s: not s["bot"]["workers"][1]["alive"], timeout=30,
                    message="worker 2 shown down")

        sent = cli(config, data, "signal", "ETH/USDT:USDT", "long", "--account", "beta")
        assert sent.returncode == 0, sent.stderr
        line = sent.stdout.strip()
        assert "\n" not in line
        assert "the running bot applies it" not in line, line
        assert "account beta's worker 2 is down (last exit -9)" in line, line
        assert "once it runs again" in line, line
        table = cli(config, data, "status").stdout
        assert "worker 2: down" in table and "WORKER 2 NOT ALIVE" in table
        # its logs: the last lines, then one line on stderr saying no more come for now
        whole = cli(config, data, "logs", "worker-2", "-n", "5")
        assert whole.returncode == 0 and whole.stdout.strip()
        assert whole.stderr.strip() == (
            "bot.py: worker 2 is down (last exit -9), restarted by the parent after its "
            "backoff (bot.py status): no new lines until it runs again"), whole.stderr
        symbol = cli(config, data, "logs", "ETH/USDT:USDT", "--account", "beta", "-n", "5")
        assert symbol.returncode == 0 and symbol.stdout.strip()
        assert symbol.stderr.strip().startswith("bot.py: account beta's worker 2 is down")
        other = cli(config, data, "logs", "BTC/USDT:USDT", "--account", "alpha", "-n", "5")
        assert other.returncode == 0 and other.stderr == ""  # worker 1 runs: nothing said

        # the restarted worker applies what was queued: the line told the truth
        s = wait_status(config, data, lambda s: (
            s["bot"]["workers"][1]["pid"] != old and s["accounts"]["beta"]["worker_alive"]
            and actor(s, "beta", "ETH/USDT:USDT")["position"]
            and actor(s, "beta", "ETH/USDT:USDT")["protected"]), timeout=90,
            message="worker 2 restarted and beta's signal traded, protected")
        assert s["bot"]["workers"][1]["restarts"] == 1

        # once it runs, the usual line again
        again = cli(config, data, "signal", "XRP/USDT:USDT", "long", "--account", "beta")
        assert again.returncode == 0 and "the running bot applies it within 0.3 s" in again.stdout
        assert cli(config, data, "logs", "worker-2", "-n", "5").stderr == ""
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
