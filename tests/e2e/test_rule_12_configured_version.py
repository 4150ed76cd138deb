"""Rule 12: the status dump shows the running version. A deployment without a git checkout (a
package, a container image) names its version with `[bot] version`; the status must show that
name (beside the checkout's commit when there is one), not the "0.1.0" placeholder. Found by the incident-rule mutation
audit: with the configured version ignored (runtime/wiring.py `running_version`), no test failed.

A real bot process on the paper exchange."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.bot_process import start_bot, wait_status, write_config

pytestmark = pytest.mark.slow
VERSION = "release-2026.12-7"


def test_the_status_shows_the_configured_version(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          bot={"status_interval_s": 0.2, "version": VERSION},
                          exchange={"poll_interval_s": 0.1}, logging={"console": False},
                          paper={"latency_ms": 1, "step_ms": 100})
    proc = start_bot(config, data)
    try:
        s = wait_status(config, data, lambda s: s["bot"]["running"], message="bot running")
        # (run from a git checkout: the label with the commit, "v (5bf0965)")
        assert s["bot"]["version"].split(" (")[0] == VERSION and s["bot"]["pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
