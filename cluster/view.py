"""The cluster as `bot.py cluster` and the status dump show it: nodes, who holds which account
at which epoch, lease ages and the last takeovers, every time on the database's clock."""

from __future__ import annotations

from typing import Any

from cluster.balance import ahead, fresh
from cluster.lease import LeaseSettings, LeaseStoreUnavailable
from observability.error_text import describe


def cluster_view(store: Any, registry: Any, settings: LeaseSettings,
                 takeovers: int = 10) -> dict[str, Any]:
    """A JSON-ready snapshot (store: storage.leases.LeaseStore, registry: ClusterRegistry)."""
    now, leases = store.all_leases()
    _, nodes = registry.nodes()
    history = registry.takeovers(takeovers)
    held: dict[str, list[str]] = {}
    lease_rows = []
    for lease in leases:
        live = now < lease.expires_at_ms
        if live:
            held.setdefault(lease.owner, []).append(lease.account)
        lease_rows.append({
            "account": lease.account, "owner": lease.owner, "epoch": lease.epoch,
            "age_s": round((now - lease.renewed_at_ms) / 1000, 3),
            "expires_in_s": round((lease.expires_at_ms - now) / 1000, 3), "live": live,
            "ahead": ahead(now - lease.renewed_at_ms, settings.ttl_ms)})  # leases.py acquire
    node_rows = [{
        "node": n["node"], "pid": n["pid"], "version": n.get("version") or None,
        "started_ms": n.get("started_ms"),
        "seen_s_ago": round((now - n["seen_ms"]) / 1000, 3),
        "live": fresh(now - n["seen_ms"], settings.ttl_ms),
        "ahead": ahead(now - n["seen_ms"], settings.ttl_ms),  # not live: see balance.fresh
        "ready": bool(n.get("ready", True)),
        "accounts": sorted(held.get(n["node"], [])),
    } for n in nodes]
    last = [_took(t) for t in history]
    # its own read: the history's last rows may all be hand-overs and first starts
    takeover = registry.last_takeover()
    return {"db_now_ms": now, "nodes": node_rows, "leases": lease_rows,
            "last_takeover": None if takeover is None else _took(takeover),
            "history": last}


def _took(row: dict[str, Any]) -> dict[str, Any]:
    """A journaled acquisition with how long its account took to run (database clock)."""
    return {**row, "took_s": round((row["ready_ms"] - row["acquired_ms"]) / 1000, 3)}


def render(view: dict[str, Any]) -> str:
    """Plain-text tables (rich would add colour codes to a pipe; these stay greppable)."""
    lines = ["nodes:"]
    for n in view["nodes"]:
        state = "live" if n["live"] else "stale"
        if n.get("ahead"):
            state = ("AHEAD of the database clock (a bad row, or the database's clock was set "
                     "back): not counted as live")
        if n["live"] and not n.get("ready", True):
            state += " (its account starts are failing: not given a share)"
        version = f"  version {n['version']}" if n.get("version") else ""
        lines.append(f"  {n['node']}  pid {n['pid']}{version}  {state}  seen "
                     f"{n['seen_s_ago']:.1f}s ago  accounts: {', '.join(n['accounts']) or '-'}")
    if not view["nodes"]:
        lines.append("  (none registered)")
    lines.append("leases:")
    for row in view["leases"]:
        state = "live" if row["live"] else "EXPIRED"
        if row.get("ahead"):
            state = ("AHEAD of the database clock (set back since): taken over unless its "
                     "holder renews it")
        lines.append(f"  {row['account']}  owner {row['owner']}  epoch {row['epoch']}  "
                     f"renewed {row['age_s']:.1f}s ago  {state}")
    if not view["leases"]:
        lines.append("  (none held)")
    last = view["last_takeover"]
    if last is None:
        lines.append("last takeover: none")
    else:
        lines.append(f"last takeover: {last['account']} epoch {last['epoch']} by {last['node']}"
                     f" from {last['previous_owner']} (running {last['took_s']:.1f}s after the"
                     " lease was taken)")
    return "\n".join(lines)


def view_or_error(store: Any, registry: Any, settings: LeaseSettings,
                  takeovers: int = 5) -> dict[str, Any]:
    """`cluster_view`, or `{"error": one line}` when it cannot be read: the status dump's
    cluster block is read on its own thread, which must live through any failure. The line
    names the type once (found by review: 'RuntimeError: RuntimeError: ...')."""
    try:
        return cluster_view(store, registry, settings, takeovers=takeovers)
    except LeaseStoreUnavailable as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - shown as the view's error, the thread lives on
        return {"error": describe(exc)}
