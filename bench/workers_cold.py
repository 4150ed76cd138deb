"""Cold start of the real bot for bench_workers.py: `bot.py run --workers N` in a subprocess,
timed until every actor of every process is running and reconciled (the status snapshots each
process writes), with the CPU seconds of the whole process tree."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, symbols, wait_for  # noqa: I001 - common puts the repository on sys.path

CLK = os.sysconf("SC_CLK_TCK")


def cold_config(path: Path, args: argparse.Namespace) -> Path:
    syms = ", ".join(f'"{s}"' for s in symbols(args.symbols))
    accounts = "".join(f'[[accounts]]\nname = "a{i}"\nsymbols.list = [{syms}]\n'
                       for i in range(args.accounts))
    path.write_text('[bot]\nmode = "paper"\nstatus_interval_s = 0.1\n[exchange]\nid = "paper"\n'
                    '[dashboard]\nenabled = false\n[logging]\nconsole = false\n' + accounts)
    return path


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK  # utime + stime
    return total


def snapshots(data: Path, workers: int) -> list[dict[str, Any]]:
    names = ["status.json"] if workers == 1 else [
        f"status.worker-{k}.json" for k in range(1, workers + 1)]
    out = []
    for name in names:
        try:
            out.append(json.loads((data / name).read_text()))
        except (OSError, ValueError):
            return []
    return out


def cold_start(workers: int, config: Path, data: Path, total: int) -> dict[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config),
                             "--data-dir", str(data), "--workers", str(workers)], cwd=ROOT)
    found: list[dict[str, Any]] = []

    def ready() -> bool:
        found[:] = snapshots(data, workers)
        running = sum(1 for st in found for a in st["actors"]
                      if a["state"] == "running" and a["reconciled"])
        return running == total

    ok = wait_for(ready, 300, poll=0.02, what="every actor running")
    wall = time.perf_counter() - t0
    pids = [proc.pid] + [st["bot"]["pid"] for st in found if st["bot"]["pid"] != proc.pid]
    cpu = cpu_seconds(pids)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    return {"wall_s": wall if ok else float("nan"), "cpu_s": cpu}
