"""SIGTERM (`kill PID`, `timeout`, a job scheduler) ends a backtest sweep and the runs under way,
as Ctrl-C does. Found by review: the sweep's process died at once but its worker processes
went on as orphans, computing their runs and writing their reports into `--out` after the
command had exited, and holding the folder's lock: a sweep started again into the same `--out`
was refused as "another backtest is writing its reports there". Real subprocesses, real
signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    """The child processes of `pid`, read per thread. A thread that ends between the listing
    and its read is skipped: it has no children now (a CI run failed on exactly that race)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            with open(task / "children") as handle:
                found.update(int(x) for x in handle.read().split())
        except FileNotFoundError:
            continue
    return found


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie may wait for a reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Sweep:
    """A `bot.py backtest --sweep` subprocess over `combos` values of one key, writing into
    `out`; the runs it was seen to start (`workers`) and itself are killed when the test
    ends, whatever it asserted."""

    def __init__(self, out: Path, processes: int, combos: int) -> None:
        values = ",".join(str(1.5 + i / 10) for i in range(combos))
        self.out = out
        self.workers: set[int] = set()
        self.proc = subprocess.Popen(
            [sys.executable, "bot.py", "backtest", "--config", "examples/backtest.toml",
             "--no-charts", "--no-progress", "--out", str(out), "--processes",
             str(processes), "--sweep", f"strategy.entry_z={values}"],
            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def terminated_at_work(self) -> str:
        """SIGTERM once the first run has written its report; the sweep's stderr."""
        wait_until(lambda: any(self.out.glob("run-*/report.json")), timeout=120,
                   message="the sweep at work")
        os.kill(self.proc.pid, signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return err

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def sweep(out: Path, *, processes: int, combos: int) -> Iterator[Sweep]:
    started = Sweep(out, processes, combos)
    try:
        yield started
    finally:
        started.end()


def test_sigterm_ends_a_sweep_and_its_runs_under_way(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with sweep(out, processes=2, combos=24) as run:
        wait_until(lambda: any(out.glob("run-*/report.json")), timeout=120,
                   message="the sweep's processes at work")
        run.workers = wait_until(lambda: _children(run.proc.pid), timeout=30,
                                 message="the runs under way")
        err = run.terminated_at_work()
        orphans = sorted(p for p in run.workers if _running(p))
        assert orphans == [], f"run processes still at work after the sweep exited: {orphans}"
        assert run.proc.returncode == 128 + signal.SIGTERM
        assert err.strip().splitlines()[-1] == "bot.py: terminated"
        again = subprocess.run(
            [sys.executable, "bot.py", "backtest", "--config", "examples/backtest.toml",
             "--no-charts", "--no-progress", "--out", str(out), "--processes", "1",
             "--sweep", "strategy.entry_z=2", "--from", "2018-01-20", "--to", "2018-01-21"],
            cwd=ROOT, text=True, capture_output=True, timeout=120)
        assert again.returncode == 0, again.stderr  # the folder is free: no one writes there


def test_a_sweep_killed_with_sigkill_leaves_no_run_computing(tmp_path: Path) -> None:
    """kill -9 of the sweep (or the out-of-memory killer choosing it): its runs die with it.
    Before, they went on as orphans and wrote their reports into `--out` seconds later."""
    out = tmp_path / "out"
    with sweep(out, processes=2, combos=4) as run:
        run.workers = wait_until(lambda: _children(run.proc.pid), timeout=120,
                                 message="the sweep's run processes")
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.communicate(timeout=60)
        wait_until(lambda: not any(_running(p) for p in run.workers), timeout=120,
                   message="the runs to end")
        # a run of the whole sample takes seconds: none reaches its report when its process
        # dies with the sweep's
        assert sorted(p.parent.name for p in out.glob("run-*/report.json")) == []


def _echo(index: int, overrides: dict) -> dict:
    return {"run": index, "overrides": overrides, "summary": {"trades": 0}, "report": "-"}


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_runs_started_by_any_start_method_run(method: str) -> None:
    """Tying a run to the sweep's life ends no run of a living sweep, whatever starts the
    processes (Python 3.14 starts them from a fork server by default on Linux: their parent is
    that server, not the sweep)."""
    script = ("import multiprocessing, sys\n"
              f"multiprocessing.set_start_method({method!r})\n"
              "from backtest import sweep\n"
              "from tests.backtest.test_sweep_sigterm import _echo\n"
              "rows = sweep.run_all([{'a': 1}, {'a': 2}, {'a': 3}], _echo, 2)\n"
              "print([r['run'] for r in rows])\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
    assert done.stdout.strip() == "[0, 1, 2]"


def test_sigterm_ends_a_sweep_in_one_process_with_the_same_line(tmp_path: Path) -> None:
    """`--processes 1` runs the combinations in the sweep's own process: SIGTERM ends it as
    with more processes (README: exit code 143, `bot.py: terminated`), not killed mid-run
    without a word."""
    out = tmp_path / "out"
    with sweep(out, processes=1, combos=24) as run:
        err = run.terminated_at_work()
        assert (run.proc.returncode, err.strip().splitlines()[-1:]) == (
            128 + signal.SIGTERM, ["bot.py: terminated"])
        assert not (out / "ranking.json").exists()
