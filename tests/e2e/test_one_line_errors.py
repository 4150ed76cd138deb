"""Issue 16 item 15: faults users meet at start print one line naming the problem, not a
traceback (real subprocesses), and the "traceback in logs/bot.log" promise is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_settings
from runtime.cli import unexpected
from tests.e2e.bot_process import ROOT, cli, write_config

SYMBOLS = ["BTC/USDT:USDT"]
pytestmark = pytest.mark.slow


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "config.toml", SYMBOLS, bot={"status_interval_s": 0.2},
                        paper={"latency_ms": 1}, logging={"console": False})


def one_line(result, *needles: str) -> str:
    err = result.stderr
    assert result.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_data_dir_that_is_a_file(config, tmp_path):
    data = tmp_path / "data"
    data.write_text("not a folder")
    one_line(cli(config, data, "run", "--duration", "5"), f"data dir {data} is a file")
    one_line(cli(config, data, "status"), "is a file")


def test_lock_file_that_cannot_be_opened(config, tmp_path):
    data = tmp_path / "data"
    (data / "bot.lock").mkdir(parents=True)  # root ignores 0400, so a directory is the fault
    one_line(cli(config, data, "run", "--duration", "5"),
             f"{data / 'bot.lock'}: cannot open the lock file")


def test_corrupt_status_json(config, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "status.json").write_text('{"bot": {"pid": 1, ')
    one_line(cli(config, data, "status"), f"{data / 'status.json'}: cannot read the status",
             "not valid JSON")


def test_corrupt_paper_store(config, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "paper_exchange.sqlite").write_bytes(b"this is not an SQLite file at all" * 100)
    one_line(cli(config, data, "run", "--duration", "5"),
             f"{data / 'paper_exchange.sqlite'}: the paper exchange store is not a "
             "readable database")


def test_a_paper_store_the_disk_fails_is_not_called_unreadable(config, tmp_path):
    """A paper store SQLite could not open for a fault around the file (its -wal a folder
    here: "unable to open database file"; a full disk, a failing or read-only one alike) was
    "not a readable database ...; move it aside to start a fresh paper account": advice that
    throws away a good paper account for a fault of the disk (found by review). Only a file
    that is not a database (or is damaged) is called so; the store is kept as it is."""
    data = tmp_path / "data"
    assert cli(config, data, "run", "--duration", "0.5").returncode == 0
    store = data / "paper_exchange.sqlite"
    before = store.read_bytes()
    Path(f"{store}-wal").unlink(missing_ok=True)
    Path(f"{store}-wal").mkdir()
    err = one_line(cli(config, data, "run", "--duration", "5"),
                   f"{store}: cannot open the paper exchange store (")
    assert "move it aside" not in err and "not a readable database" not in err, err
    Path(f"{store}-wal").rmdir()
    assert store.read_bytes() == before
    assert cli(config, data, "run", "--duration", "0.5").returncode == 0

def test_csv_step_below_four_is_refused_naming_the_key(tmp_path):
    csv = ROOT / "tests" / "data" / "ETH_BTC-5m.csv"
    path = tmp_path / "c.toml"
    path.write_text(f'[symbols]\nlist = ["ETH/USDT:USDT"]\n[paper]\nprice_source = "csv"\n'
                    f'step_ms = 3\ncsv_files = {{"ETH/USDT:USDT" = "{csv}"}}\n')
    with pytest.raises(ConfigError, match=r"paper\.step_ms: must be >= 4 .* \(got 3\)"):
        load_settings(path)


def test_unexpected_error_traceback_really_is_in_the_bot_log(tmp_path):
    try:
        {}["amount"]
    except KeyError as exc:
        line = unexpected(exc, "run", tmp_path)
    log = tmp_path / "logs" / "bot.log"
    assert line == f"unexpected KeyError in run: 'amount' (traceback in {log})"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'amount'" in text


def test_a_workers_unexpected_error_goes_to_its_own_log_not_the_parents(tmp_path):
    """With run --workers N, logs/bot.log is the parent's and no file is written by two
    processes (README, Worker processes); a worker that met an unexpected error appended its
    traceback to logs/bot.log all the same, and `bot.py logs worker-2` did not show why it
    died (found by review). A real `bot.py worker` process; the fault: a bug raised in its main
    thread every 0.3 s once the worker command runs (past the config load, so the data dir is
    known: a slow CI load met the alarm in dispatch before it) until one escapes, off at exit
    (a sitecustomize; the bad store values this test used before are startup lines now)."""
    import os
    import subprocess
    import sys

    config = tmp_path / "bot.toml"
    config.write_text('[bot]\nstatus_interval_s = 0.2\n[paper]\nlatency_ms = 1\n'
                      '[logging]\nconsole = false\n[[accounts]]\nname = "alpha"\n'
                      'symbols.list = ["BTC/USDT:USDT"]\n[[accounts]]\nname = "beta"\n'
                      'symbols.list = ["ETH/USDT:USDT"]\n')
    data = tmp_path / "data"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import signal, sys\n"
        "if 'worker' in sys.argv:\n"
        f"    ROOT = {str(ROOT)!r}\n"
        "    def _ours(code):\n"
        "        return code.co_filename.startswith(ROOT) and '/.venv/' not in code.co_filename\n"
        "    def _bug(signum, frame):\n"
        # only inside the worker command (its data dir is known), and only where a bug of
        # ours can be: in our own code, or a thread wait it called. Raised anywhere (a
        # library's or the interpreter's own code: an import, peewee opening a transaction)
        # on a slow machine it broke the interpreter in ways no bug of the bot can (asyncio
        # half imported: NameError base_events; 'cannot rollback - no transaction is active')
        "        f = frame\n"
        "        while f is not None and f.f_code.co_filename.endswith('threading.py'):\n"
        "            f = f.f_back\n"
        "        if f is None or not _ours(f.f_code):\n"
        "            return\n"
        "        while f is not None and f.f_code.co_name != '_worker':\n"
        "            if 'importlib' in f.f_code.co_filename:\n"
        "                return\n"
        "            f = f.f_back\n"
        "        if f is not None:\n"
        "            raise RuntimeError('injected bug')\n"
        "    def _off():\n"  # an alarm while the interpreter ends would kill it (-14)
        "        signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "        signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    import atexit\n"
        "    atexit.register(_off)\n"
        "    signal.signal(signal.SIGALRM, _bug)\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0.3, 0.3)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)}
    r = subprocess.run([sys.executable, str(ROOT / "bot.py"), "worker", "--config", str(config),
                        "--data-dir", str(data), "--index", "2", "--accounts", "beta",
                        "--parent-pid", str(os.getpid())],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    own = data / "logs" / "worker-2.log"
    assert r.returncode == 2 and f"(traceback in {own})" in r.stderr, r.stderr
    assert "Traceback (most recent call last)" in own.read_text()
    assert not (data / "logs" / "bot.log").exists()  # the parent's alone
