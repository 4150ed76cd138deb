"""The text of Telegram's ``/status`` reply, from the status document (``status.json`` as the
dashboard reads it, dashboard/source.py)."""

from __future__ import annotations

from typing import Any


def status_text(status: dict[str, Any] | None) -> str:
    status = status or {}
    lines = []
    for name, entry in (status.get("accounts") or {}).items():
        pnl, h = entry.get("pnl") or {}, entry["health"]
        lines.append(
            f"{name}: open {h['open_positions']} (protected "
            f"{h['protected_positions']}), today {pnl.get('realized_today')} USDT, "
            f"total {pnl.get('realized_total')}, equity {pnl.get('equity')}"
            f"{', KILL SWITCH' if entry['kill_switch'] else ''}"
            f"{', PAUSED' if entry.get('entries_paused') else ''}"
        )
        lines += [
            f"  {p['name']} {p.get('symbol') or ''}: {p['reason']}"
            for p in entry.get("protections") or []
        ]
    return "\n".join(lines) or "no status yet"
