"""Every alert kind the code raises is classified once in supervision/alerts.py (found by review:
Telegram's list said "takeover" while the code raised "cluster_takeover", and
worker_escalation, account_lock_lost and status_write_failed never reached Telegram).

The kinds are collected from the production code itself: every ``.alert(symbol, "kind", ...)``
call, and every call of a function that passes its own parameter on as the kind (e.g.
``self._alert("worker_escalation", ...)`` in runtime/workers.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from loguru import logger

from supervision.alerts import Alerts
from tests.notifications.fake_telegram import FakeTelegram
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SKIP = {"tests", ".venv", "venv", "node_modules"}
MUST_GO = {"escalation", "kill_switch", "protection", "unprotected", "cluster_takeover",
           "worker_escalation", "account_lock_lost", "status_write_failed"}
"""What an operator must always hear of (the review's list)."""
TOKEN = "5555:alert-kinds-token"


def _sources() -> list[Path]:
    """The repository's .py files outside tests (and outside any virtualenv or hidden dir)."""
    tops = [p for p in ROOT.iterdir() if p.name not in SKIP and not p.name.startswith(".")]
    files = [p for p in tops if p.suffix == ".py"]
    for top in (p for p in tops if p.is_dir()):
        files += [p for p in top.rglob("*.py") if not any(
            part in SKIP or part.startswith(".") for part in p.relative_to(ROOT).parts)]
    return files


def _name(func: ast.expr) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else (
        func.id if isinstance(func, ast.Name) else None)


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    return names[1:] if names[:1] in (["self"], ["cls"]) else names


def _enclosing(tree: ast.Module) -> dict[ast.AST, ast.AST | None]:
    """Each call's innermost enclosing function (None at module level)."""
    owner: dict[ast.AST, ast.AST | None] = {}

    def visit(node: ast.AST, fn: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            owner[child] = fn
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, child if inner else fn)

    visit(tree, None)
    return owner


def collect_kinds() -> tuple[dict[str, list[str]], list[str]]:
    """{kind: [where raised]}, and the ``.alert(`` calls whose kind could not be resolved."""
    texts = {p: p.read_text() for p in _sources()}
    trees = {p: ast.parse(text, str(p)) for p, text in texts.items() if "alert" in text}
    kinds: dict[str, list[str]] = {}
    unresolved: list[str] = []
    # function name -> every (kind's index, its name) of wrappers of that name: two methods
    # may share one (runtime/workers.py `_alert(kind, ...)`, runtime/cluster_node.py
    # `_alert(account, kind, ...)`); one kept per name lost the other's kinds
    wrappers: dict[str, set[tuple[int, str]]] = {}
    for path, tree in trees.items():
        for call, fn in _enclosing(tree).items():
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "alert"):
                continue
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            node = _argument(call, 1, "kind")
            if (kind := _literal(node)) is not None:
                kinds.setdefault(kind, []).append(where)
            elif (isinstance(node, ast.Name) and isinstance(fn, ast.FunctionDef |
                  ast.AsyncFunctionDef) and node.id in _params(fn)):
                wrappers.setdefault(fn.name, set()).add((_params(fn).index(node.id), node.id))
            else:
                unresolved.append(where)
    for path, tree in trees.items():
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and (name := _name(call.func)) in wrappers:
                for index, keyword in sorted(wrappers[name]):
                    if (kind := _literal(_argument(call, index, keyword))) is not None:
                        kinds.setdefault(kind, []).append(
                            f"{path.relative_to(ROOT)}:{call.lineno}")
    return kinds, unresolved


def test_every_kind_raised_in_the_code_is_classified():
    from supervision.alerts import FORWARDED, NOT_FORWARDED

    kinds, unresolved = collect_kinds()
    assert not unresolved, f".alert( calls whose kind is not a literal: {unresolved}"
    assert MUST_GO <= set(kinds), f"the collector missed kinds: {MUST_GO - set(kinds)}"
    unknown = {k: w for k, w in kinds.items() if k not in FORWARDED | NOT_FORWARDED}
    assert not unknown, ("alert kinds raised but neither FORWARDED nor NOT_FORWARDED in "
                         f"supervision/alerts.py: {unknown}")
    assert not FORWARDED & NOT_FORWARDED
    assert MUST_GO <= FORWARDED


@pytest.fixture
def fake():
    server = FakeTelegram(TOKEN)
    yield server
    server.stop()


def test_every_kind_an_operator_must_know_reaches_telegram(fake):
    from notifications.telegram import TelegramApi
    from notifications.telegram_bot import TelegramBot

    alerts = Alerts(logger=logger, account="alpha")
    bot = TelegramBot(api=TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=5),
                      chat_ids=(7,), logger=logger, status_text=lambda: "", pause=lambda by: "",
                      commands=False, retry_initial_s=0.05, retry_max_s=0.2)
    alerts.listeners.append(bot.on_alert)
    bot.start()
    try:
        for kind in sorted(MUST_GO):
            alerts.alert(None, kind, f"the {kind} message")
        # sent in order after the alerts above: once it is there, so is every one forwarded
        bot.broadcast("END", "escalation")
        wait_until(lambda: "END" in fake.texts(7), timeout=10, message="the last message")
        sent = {t.split(" ", 1)[0] for t in fake.texts(7)}
        missing = {k for k in MUST_GO if k.upper() not in sent}
        assert not missing, f"alerts that never reached Telegram: {sorted(missing)}"
    finally:
        bot.stop()
