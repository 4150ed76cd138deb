"""The daily summary's day is the UTC day (README, Telegram: "a daily summary after 00:00 UTC"),
whatever the host's local time zone. Mutation audit: the summary's date written with
`time.localtime` instead of `time.gmtime` (protections/daily_summary.py) survived every test,
since the tests run where local time is UTC; on a host five hours behind UTC the summary of
2026-12-01 would say 2026-11-30.

A real subprocess with `TZ=EST5` (a POSIX zone, no tz database needed) runs the real guard over
a real SQLite ledger (tests/protections/ledger_rig.py) across midnight UTC and prints the
notices it sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.protections.ledger_rig import BTC, T0, Ledger

ROOT = Path(__file__).resolve().parents[2]
MIDNIGHT = T0 - 3600 + 86_400.0  # 2026-12-02T00:00:00Z, 2026-12-01 19:00 in EST5


def run_across_midnight(path: Path) -> list[str]:
    """A bot running on 2026-12-01 (UTC) that loses 5.05, then its first pass after midnight."""
    led = Ledger(path)
    try:
        guard, notices = led.replayed_guard(T0)
        led.closed("p1", BTC, "stop_loss", T0 + 100, pnl="-5", fee="0.05")
        guard.tick(T0 + 200)
        guard.tick(MIDNIGHT + 30)
        return notices
    finally:
        led.close()


def test_the_summary_names_the_utc_day_on_a_host_behind_utc(tmp_path: Path) -> None:
    code = ("import json, sys; from pathlib import Path; "
            "from tests.protections.test_summary_day_in_utc import run_across_midnight; "
            "print(json.dumps(run_across_midnight(Path(sys.argv[1]))))")
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                           env={**os.environ, "TZ": "EST5"}, capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr
    notices = json.loads(child.stdout.strip().splitlines()[-1])
    summaries = [n for n in notices if n.startswith("daily summary")]
    assert summaries == ["daily summary 2026-12-01: realized -5.05 USDT; total -5.05, equity "
                         "(capital + realized) 9994.95, 0W/0D/1L"], notices
