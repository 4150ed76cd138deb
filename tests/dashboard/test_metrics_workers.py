"""/metrics of `run --workers N` (served by the parent from the merged status): an account whose
worker is dead, or alive but no longer writing its snapshot, keeps its last figures (they do not
vanish), and /metrics says they are not current.

Found by review: the parent's /metrics showed a killed or hung worker's last figures (positions,
stop coverage 1, P&L) exactly as a live one's, with `bot_up` 1 (the parent holds the lock) and
the parent's own heartbeat fresh: a Prometheus rule could not tell; the page said "worker not
alive" in red. Real child processes stand in for the workers, the merge is the parent's own."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from observability.metrics import BotMetrics
from runtime.workers import Worker
from runtime.workers_status import merge_status
from tests.e2e.test_workers_status import account_entry, bot, procs, snapshot, write  # noqa: F401


def samples(metrics: BotMetrics, name: str) -> dict[str, float]:
    text = metrics.render().decode()
    return {s.labels["account"]: s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == name}


def test_a_dead_workers_accounts_are_not_current_in_metrics(tmp_path, procs):  # noqa: F811
    w1 = Worker(index=1, accounts=("alpha",), proc=procs())
    w2 = Worker(index=2, accounts=("beta",), proc=procs())
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", True)}))
    write(tmp_path, 2, snapshot(w2.pid, {"beta": account_entry("B", True)}))
    status = {"now": merge_status(tmp_path, bot([w1, w2]), [w1, w2], 200.0, grouped=True)}
    metrics = BotMetrics(snapshot=lambda: status["now"])
    # gamma: configured (bot()), served by no worker here, so no figures: not current
    assert samples(metrics, "bot_account_current") == {"alpha": 1.0, "beta": 1.0, "gamma": 0.0}

    assert w1.proc is not None
    w1.proc.kill()
    w1.proc.wait()
    status["now"] = merge_status(tmp_path, bot([w1, w2]), [w1, w2], 201.0, grouped=True)
    assert samples(metrics, "bot_open_positions") == {"alpha": 1.0, "beta": 1.0}  # kept
    assert samples(metrics, "bot_account_current") == {"alpha": 0.0, "beta": 1.0, "gamma": 0.0}
    assert samples(metrics, "bot_account_snapshot_age_seconds")["alpha"] >= 0.0


def test_one_process_accounts_are_current_while_the_bot_writes_its_status():
    entry = account_entry("A", True)
    status = {"bot": {"running": True, "heartbeat_at": 5.0, "heartbeat_stale": False},
              **entry, "accounts": {"main": entry}}
    metrics = BotMetrics(snapshot=lambda: status)
    assert samples(metrics, "bot_account_current") == {"main": 1.0}
    status["bot"]["heartbeat_stale"] = True  # the run loop stopped writing status.json
    assert samples(metrics, "bot_account_current") == {"main": 0.0}


def test_a_worker_that_never_wrote_a_snapshot_has_its_accounts_not_current(tmp_path, procs):  # noqa: F811
    """A worker that dies (or hangs) before its first snapshot - a crash at its start, restarted
    over and over: its accounts had no sample at all, so `bot_account_current == 0` never fired
    for them. Now every configured account has one: 0 until its figures are current."""
    w1 = Worker(index=1, accounts=("alpha", "gamma"), proc=procs())
    w2 = Worker(index=2, accounts=("beta",), proc=procs())
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", True),
                                         "gamma": account_entry("G", False)}))
    assert w2.proc is not None
    w2.proc.kill()
    w2.proc.wait()
    status = merge_status(tmp_path, bot([w1, w2]), [w1, w2], 200.0, grouped=True)
    metrics = BotMetrics(snapshot=lambda: status)
    assert samples(metrics, "bot_account_current") == {"alpha": 1.0, "beta": 0.0, "gamma": 1.0}
    assert "beta" not in samples(metrics, "bot_open_positions")  # no figures are made up
