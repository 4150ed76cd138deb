"""Chaos run of `bot.py run --workers 2`: SIGKILL the worker process (not the parent) at chosen
moments; the parent restarts it after its backoff and the same invariants as tests/e2e/chaos.py
are checked after every restart (no committed event or log line lost, no client order id sent
twice, every position tracked and protected by a stop within 5 s, the ledger equal to the
exchange's fills). One account, so one worker (the parent clamps --workers 2 and says so).
No external signals: the signal endpoint is not served with workers (README).

Run it directly for a long run:  python -m tests.e2e.chaos_workers --kills 50"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from supervision.status import read_status
from tests.e2e.bot_process import start_bot
from tests.e2e.chaos import Chaos, main
from tests.e2e.chaos_files import bot_fills, exchange_fills
from tests.e2e.chaos_moments import MOMENTS
from tests.support.waiting import wait_until

SUPERVISION = "backoff_initial_s = 0.2\nbackoff_max_s = 0.5\nmax_restarts = 1000\n"


def is_worker(pid: int) -> bool:
    """A child of the parent that is its worker (not the `git` it runs for its version)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"worker" in args and any(a.endswith(b"bot.py") for a in args)


class WorkerProcess:
    """The worker as the chaos run sees it (its parent, not this process, reaps it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            state = "gone"
        if state in ("gone", "Z", "X"):
            self.returncode = -9
        return self.returncode

    def wait(self, timeout: float = 30) -> int | None:
        wait_until(lambda: self.poll() is not None, timeout=timeout, interval=0.01,
                   message=f"worker {self.pid} gone")
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class WorkerChaos(Chaos):
    moments = {k: v for k, v in MOMENTS.items() if k != "signal_in_mailbox"}

    def __init__(self, workdir: Path, seed: int = 1, signals: bool = False) -> None:
        super().__init__(workdir, seed=seed, signals=False)
        text = self.config.read_text().replace("[supervision]\n", f"[supervision]\n{SUPERVISION}")
        self.config.write_text(text)
        self.parent: subprocess.Popen | None = None
        self.seen: set[int] = set()

    @property
    def bot_log(self) -> Path:
        return self.data / "logs" / "worker-1.log"

    def start(self) -> float:
        """The parent at the first call (and after the final stop); later, the worker the
        parent restarted: this waits for its new PID (it is then importing, not trading)."""
        self.log_offset = self.bot_log.stat().st_size if self.bot_log.exists() else 0
        self.started_at = time.time()
        if self.parent is None or self.parent.poll() is not None:
            self.parent = start_bot(self.config, self.data, "--workers", "2",
                                    stderr_to=self.stderr)
        parent = self.parent

        def new_worker() -> int | None:
            out = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True,
                                 text=True).stdout.split()
            fresh = [int(p) for p in out if int(p) not in self.seen and is_worker(int(p))]
            return fresh[0] if fresh else None

        pid = wait_until(new_worker, timeout=60, interval=0.01, message="the worker started")
        self.seen.add(pid)
        self.proc = WorkerProcess(pid)  # type: ignore[assignment]
        return self.started_at

    def _restart_and_check(self, killed_at: float) -> None:
        t0 = self.start()
        pending = self._wait_reconciled()
        self.report.check(pending is None,
                          f"restart: actors not all running and reconciled within 60s: {pending}")
        self.report.restart_s.append(time.time() - t0)
        self._check_unique_ids()
        self._check_protected()
        self._check_ledger(before_ms=int(t0 * 1000))
        self._check_no_guesswork()

    def _wait_reconciled(self, timeout: float = 60) -> str | None:
        """None once the current worker's snapshot is current and all its actors run and have
        reconciled (a dead worker's last snapshot, shown meanwhile, does not count)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        pending = "no status"
        while time.monotonic() < deadline:
            s = read_status(self.data) or {}
            workers = s.get("bot", {}).get("workers") or [{}]
            w = workers[0]
            if w.get("pid") == self.proc.pid and w.get("snapshot_current") and s.get("actors"):
                stuck = [a["symbol"] for a in s["actors"]
                         if a["state"] != "running" or not a["reconciled"]]
                if not stuck:
                    return None
                pending = f"not running/reconciled: {stuck}"
            else:
                pending = f"worker not current: {w}"
            time.sleep(0.05)
        return pending

    def _final_check(self) -> None:
        assert self.parent is not None
        self.parent.send_signal(signal.SIGTERM)
        self.parent.wait(timeout=90)
        self.report.check(self.parent.returncode == 0,
                          f"final SIGTERM exit code {self.parent.returncode}")
        t0 = self.start()  # a new parent: reconciles what the last moments left behind
        pending = self._wait_reconciled()
        self.report.check(pending is None, f"final start: not all reconciled: {pending}")
        assert self.parent is not None
        self.parent.send_signal(signal.SIGTERM)
        self.parent.wait(timeout=90)
        self.report.check(self.parent.returncode == 0,
                          f"final stop exit code {self.parent.returncode}")
        mine, ex = bot_fills(self.db), exchange_fills(self.paper)
        settled = [cid for cid, v in ex.items() if v[3] < int(t0 * 1000) - 1000]
        total_ex = sum((ex[c][2] - ex[c][1] for c in settled), 0)
        total_bot = sum((mine[c][2] - mine[c][1] for c in settled if c in mine), 0)
        self.report.check(total_ex == total_bot, f"ledger total {total_bot} != exchange {total_ex}")
        self._check_ledger(before_ms=int(t0 * 1000))

    def run(self, kills: int):  # type: ignore[no-untyped-def]
        try:
            return super().run(kills)
        finally:
            if self.parent is not None and self.parent.poll() is None:
                self.parent.kill()
                self.parent.wait()


if __name__ == "__main__":
    sys.exit(main(WorkerChaos, __doc__, "chaos-workers-"))
