"""`python bot.py run --workers 2` with three paper accounts as real processes: status shows every
account and both workers, a signal to each account is handled by the worker running it, no log
file is written by two processes, `kill -9` of a worker -> the parent restarts it and its
account's position comes back protected, SIGTERM stops every process with exit 0."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from observability.log_streams import safe_name
from tests.e2e.bot_process import cli, start_bot, status, wait_status
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
ACCOUNTS = {
    "alpha": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
    "beta": ["ETH/USDT:USDT", "XRP/USDT:USDT"],
    "gamma": ["BNB/USDT:USDT", "ADA/USDT:USDT"],
}
PLAN = {1: ["alpha", "gamma"], 2: ["beta"]}  # round-robin over two workers


def write_accounts_config(path: Path, supervision: str = "") -> Path:
    """Three paper accounts. The strategy's window is never filled during a test, so it neither
    enters nor exits: only manual signals trade, and their positions stay open (paper prices at
    market speed 1, far from a 3 % stop) however slow a loaded machine makes the test."""
    accounts = "".join(
        f'[[accounts]]\nname = "{name}"\nsymbols.list = {list(symbols)!r}\n'.replace("'", '"')
        for name, symbols in ACCOUNTS.items()
    )
    path.write_text(
        '[bot]\nmode = "paper"\nstatus_interval_s = 0.3\n'
        '[exchange]\nid = "paper"\npoll_interval_s = 0.3\n'
        '[strategy]\nname = "mean_reversion"\nwindow = 10000\n'
        "[risk]\norder_size_usdt = 100\nleverage = 5\nstop_loss_pct = 3.0\n"
        "[paper]\nspeed = 1.0\n"
        "[dashboard]\nenabled = false\n[logging]\nconsole = false\n"
        f"[supervision]\n{supervision}\n{accounts}"
    )
    return path


def all_running(s: dict) -> bool:
    return (
        s["bot"]["running"]
        and all(w["alive"] and w["snapshot_current"] for w in s["bot"]["workers"])
        and sorted(s["accounts"]) == sorted(ACCOUNTS)
        and all(
            a["state"] == "running" and a["reconciled"] and a["last_tick_age_s"] is not None
            for a in s["actors"]
        )
    )


def actor(s: dict, account: str, symbol: str) -> dict:
    return next(a for a in s["accounts"][account]["actors"] if a["symbol"] == symbol)


def open_files_under(pid: int, root: Path) -> set[str]:
    fd_dir = Path(f"/proc/{pid}/fd")
    paths = set()
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith(str(root)):
            paths.add(target)
    return paths


def test_two_workers_three_accounts_status_signals_kill_restart_and_sigterm(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        workers = {w["index"]: w for w in s["bot"]["workers"]}
        assert s["bot"]["pid"] == proc.pid and sorted(workers) == [1, 2]
        assert {i: w["accounts"] for i, w in workers.items()} == PLAN
        assert len({proc.pid, workers[1]["pid"], workers[2]["pid"]}) == 3
        for index, names in PLAN.items():
            for name in names:
                assert s["accounts"][name]["worker"] == index
                assert [a["symbol"] for a in s["accounts"][name]["actors"]] == ACCOUNTS[name]

        table = cli(config, data, "status")
        assert table.returncode == 0
        assert all(f"== account {n} (exchange paper)" in table.stdout for n in ACCOUNTS)
        assert f"worker 1: alive  pid {workers[1]['pid']}  accounts alpha,gamma" in table.stdout
        assert f"worker 2: alive  pid {workers[2]['pid']}  accounts beta" in table.stdout

        # a signal to each account, handled by the worker that runs it
        for name, symbols in ACCOUNTS.items():
            sent = cli(config, data, "signal", symbols[0], "long", "--account", name)
            assert sent.returncode == 0, sent.stderr
        s = wait_status(config, data, lambda s: all(
            actor(s, n, syms[0])["position"] and actor(s, n, syms[0])["protected"]
            for n, syms in ACCOUNTS.items()), message="a protected position in every account")
        logs = data / "logs"
        for index, names in PLAN.items():
            own = (logs / f"worker-{index}.log").read_text()
            other = (logs / f"worker-{3 - index}.log").read_text()
            for name in names:
                assert f"| {name} {ACCOUNTS[name][0]} | " in own
                assert f"| {name} " not in other
                line = cli(config, data, "logs", ACCOUNTS[name][0], "--account", name, "-n", "500")
                assert line.returncode == 0 and "manual" in line.stdout
            whole = cli(config, data, "logs", f"worker-{index}", "-n", "2000")
            assert whole.returncode == 0 and f"| {names[0]} " in whole.stdout

        # one writer per file: no log, status or database file is open in two processes
        pids = [proc.pid, workers[1]["pid"], workers[2]["pid"]]
        opened = {pid: open_files_under(pid, data) for pid in pids}
        for i, a in enumerate(pids):
            for b in pids[i + 1:]:
                assert not (opened[a] & opened[b]), (a, b, opened[a] & opened[b])
        assert str(logs / "bot.log") in opened[proc.pid]

        # kill -9 the worker running beta: restarted, beta restored with its position protected
        old = workers[2]["pid"]
        os.kill(old, signal.SIGKILL)
        eth = ACCOUNTS["beta"][0]
        s = wait_status(config, data, lambda s: (
            s["bot"]["workers"][1]["pid"] != old and all_running(s)
            and s["accounts"]["beta"]["worker_alive"]
            and actor(s, "beta", eth)["position"] and actor(s, "beta", eth)["protected"]
        ), timeout=90, message="worker 2 restarted with beta's position protected")
        restarted = s["bot"]["workers"][1]
        assert restarted["restarts"] == 1 and restarted["last_exit"] == -signal.SIGKILL
        assert s["bot"]["workers"][0]["pid"] == workers[1]["pid"]  # the other worker untouched
        assert s["health"]["open_positions"] == s["health"]["protected_positions"] >= 3
        assert "worker 2 (pid" in (logs / "bot.log").read_text()

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    for pid in (workers[1]["pid"], restarted["pid"]):
        wait_until(lambda p=pid: not Path(f"/proc/{p}").exists(), timeout=10,
                   message=f"worker {pid} gone")
    final = status(config, data)
    assert final is not None and final["bot"]["running"] is False
    assert not any(w["alive"] for w in final["bot"]["workers"])
    assert "worker 2: down" in cli(config, data, "status").stdout
    for name, symbols in ACCOUNTS.items():
        for sym in symbols:
            path = logs / name / f"{safe_name(sym)}.log"
            assert "stopped" in path.read_text().splitlines()[-1], path
    for index in PLAN:
        assert "bot stopped" in (logs / f"worker-{index}.log").read_text().splitlines()[-1]
    assert "bot stopped" in (logs / "bot.log").read_text().splitlines()[-1]
