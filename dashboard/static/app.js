// The dashboard page. Every string from the bot reaches the page through textContent or an
// attribute set by the DOM API, never through innerHTML: symbol names, error texts and journal
// fields cannot inject markup.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { status: null, session: null, journalBefore: null, paged: false };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// The bot's figures are Decimal strings: they are rounded here as decimals (half up, as the
// bot rounds money), never through a float (1.005 read 1.00, -0.004 read -0.00), and a price
// keeps its digits (a stop at 0.000475 read 0.0005; Python writes 0.000000475 as 4.75E-7).
function decimal(v) {
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,3}))?\s*$/.exec(String(v));
  if (!m || !(m[2] || m[3])) return null;
  const frac = m[3] || "";
  let digits = (m[2] || "") + frac, scale = frac.length - Number(m[4] || 0);
  if (scale < 0) { digits += "0".repeat(-scale); scale = 0; }
  return { neg: m[1] === "-", units: BigInt(digits), scale };
}
function decimalText(neg, units, scale) {
  let s = units.toString().padStart(scale + 1, "0");
  if (scale) s = `${s.slice(0, -scale)}.${s.slice(-scale)}`;
  return (neg && units !== 0n ? "-" : "") + s;
}
function roundTo(d, places) {  // half up, as the bot rounds money
  if (d.scale <= places) return d;
  const div = 10n ** BigInt(d.scale - places);
  return { neg: d.neg, units: d.units / div + (d.units % div * 2n >= div ? 1n : 0n), scale: places };
}
function fmt(v, digits = 2) {  // an amount, to `digits` places
  if (v === null || v === undefined || v === "") return "-";
  const d = decimal(v);
  if (!d) return String(v);
  const r = roundTo(d, digits);
  return decimalText(r.neg, r.units * 10n ** BigInt(digits - r.scale), digits);
}
function price(v, digits = 4) {
  // a price: at least `digits` places and every one it has, up to 8 (an average entry after
  // part fills carries 28) or 6 significant digits below 0.01 (a stop at 0.000000475)
  if (v === null || v === undefined || v === "") return "-";
  const d = decimal(v);
  if (!d) return String(v);
  const r = roundTo(d, Math.max(8, d.scale - d.units.toString().length + 6));
  const scale = Math.max(r.scale, digits);
  return decimalText(r.neg, r.units * 10n ** BigInt(scale - r.scale), scale);
}
function signClass(v) { const n = Number(v); return n > 0 ? "pos" : n < 0 ? "neg" : ""; }
function ts(t) { return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "-"; }

function message(text, ok) {
  const box = $("#message");
  box.hidden = false;
  box.className = ok ? "ok" : "bad";
  box.textContent = text;
}

// Nothing answering (the bot stopped, the network down) is an answer too, status 0: fetch's
// rejection went uncaught, so a control pressed then said nothing at all (read as done) and
// the slower views kept their last content as if current.
const GONE = "the dashboard did not answer (bot stopped or restarting, or the network is down)";
async function api(path, options = {}) {
  let res;
  try { res = await fetch(path, { credentials: "same-origin", ...options }); }
  catch (e) { return { ok: false, status: 0, body: { reason: GONE } }; }
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  return { ok: res.ok, status: res.status, body };
}

// -- session ------------------------------------------------------------------------------------
async function refreshSession() {
  const r = await api("/api/session");
  if (r.status === 0) { state.session = state.session || {}; return; }  // unknown: as it was
  state.session = r.body || {};
  const authed = !!state.session.authenticated;
  if (authed) state.hadSession = true;  // a later 401 is a session that ended
  $("#login-form").hidden = authed || !state.session.controls_enabled;
  $("#logout-btn").hidden = !authed;
  const info = $("#auth-state");
  info.hidden = false;
  info.textContent = authed ? "controls enabled" :
    state.session.controls_enabled ? "read-only (log in for controls)" : "read-only (no token configured)";
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const token = $("#token").value;
  const r = await api("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify({ token }) });
  $("#token").value = "";
  message(r.ok ? "logged in" : "login refused: " + ((r.body && r.body.reason) || r.status), r.ok);
  await refreshSession();
  if (r.ok && state.loggedOut) {  // back from an ended session: the live feed again
    state.loggedOut = false;
    clearInterval(polling);
    polling = null;
    connect();
  }
  if (state.session.login_required) loadExtras();
});
$("#logout-btn").addEventListener("click", async () => {
  const r = await api("/api/logout", { method: "POST" });
  if (!r.ok) message("logout failed: " + ((r.body && r.body.reason) || r.status), false);
  await refreshSession();
});

// -- controls -----------------------------------------------------------------------------------
async function control(account, command, extra = {}) {
  const r = await api("/api/control", { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: JSON.stringify({ account, command, ...extra }) });
  // a second press while the first is still queued (double click, another tab) is that one
  if (r.ok) message(`${command} ${extra.symbol || ""} ${r.body.status === "already queued" ? "already queued, not sent again" : "queued"}` +
                    ` (control #${r.body.control_id}); applied at the bot's next round (bot.status_interval_s)`, true);
  else if (r.body && r.body.status === "unconfirmed") {
    message(`${command} ${extra.symbol || ""} ${r.body.reason}`, false);  // not refused: may still apply
  } else {
    message(`${command} refused: ${(r.body && r.body.reason) || r.status}`, false);
    // the session ended (expired, or the bot restarted): offer the login form again
    if (r.status === 401) await refreshSession();
  }
}

function button(label, account, command, extra = {}, danger = false) {
  return el("button", { type: "button", class: danger ? "danger" : "", "data-action": command,
                        "data-symbol": extra.symbol || "", onclick: () => control(account, command, extra) }, label);
}

// -- rendering ----------------------------------------------------------------------------------
function kpi(label, value, cls = "") {
  return el("div", { class: "kpi" }, el("div", { class: "label", text: label }),
            el("div", { class: "value " + cls, text: value }));
}

function renderAccount(name, a) {
  const pnl = a.pnl || {};
  const h = a.health;
  const card = el("section", { class: "card", "data-account": name });
  const badges = el("div", { class: "row" },
    el("h2", { text: `Account ${name}` }), el("span", { class: "pill", text: a.exchange || "" }),
    el("span", { class: "pill " + (a.kill_switch ? "bad" : "ok"), "data-testid": "kill-switch",
                 text: a.kill_switch ? "KILL SWITCH ON" + (a.kill_switch_reason ?
                   ` (${a.kill_switch_reason}, since ${ts(a.kill_switch_at)})` : "") : "kill switch off" }),
    coveragePill(h));
  if (a.entries_paused) badges.append(el("span", { class: "pill warn", "data-testid": "paused",
                                          text: `entries paused by ${a.entries_paused.by}` }));
  card.append(badges);
  card.append(el("div", { class: "kpis" },
    // capital + realized net of fees (the JSON key is "equity"): no open position's uPnL in it
    kpi("equity (capital + realized)", fmt(pnl.equity)), kpi("realized today", fmt(pnl.realized_today), signClass(pnl.realized_today)),
    kpi("realized total", fmt(pnl.realized_total), signClass(pnl.realized_total)),
    kpi("fees", fmt(pnl.fees)),
    kpi("win rate", pnl.win_rate === null || pnl.win_rate === undefined ? "-" :
        `${Math.round(pnl.win_rate * 100)}% (${pnl.wins}W/${pnl.draws === undefined ? "" : `${pnl.draws}D/`}${pnl.losses}L)`),
    kpi("drawdown", fmt(pnl.drawdown))));
  for (const p of a.protections || []) {
    const extra = p.symbol ? { name: p.name, symbol: p.symbol } : { name: p.name };
    card.append(el("div", { class: "alert row", "data-testid": "protection" },
      el("span", { text: `${p.name}${p.symbol ? " " + p.symbol : ""}: ${p.reason} (since ${ts(p.tripped_since)})` }),
      button("reset", name, "reset_protection", extra)));
  }
  for (const w of accountWarnings(a)) card.append(w);
  for (const e of a.escalations || [])
    card.append(el("div", { class: "alert", "data-testid": "escalation",
                            text: `escalation ${e.symbol}: ${e.reason} (last error: ${e.last_error || "-"})` }));
  card.append(el("div", { class: "row" },
    a.entries_paused ? button("allow entries", name, "unpause") : button("pause entries", name, "pause"),
    a.kill_switch ? button("reset kill switch", name, "kill_switch_reset")
                  : button("trip kill switch", name, "kill_switch", {}, true)));
  card.append(el("h3", { text: "Open positions" }), positionsTable(name, a.actors, unreadableOf(a), Number(h.restoring_symbols) || 0));
  card.append(el("h3", { text: "Actors" }), actorsTable(name, a.actors));
  const chart = el("div", { class: "equity", "data-account": name });
  card.append(el("h3", { text: "Equity (ledger: capital + realized)" }), chart);
  card.append(el("h3", { text: "Recent trades" }), el("div", { class: "scroll trades", "data-account": name }));
  return card;
}

// -- what must never look all-clear --------------------------------------------------------------
// Each condition the status reports as wrong gets a red line of its own (data-testid names it):
// a symbol whose stored state is unreadable holds an unknown position, so coverage is not green.
function unreadableOf(a) {
  const count = (a.health && a.health.unreadable_symbols) || 0;
  const names = (a.actors || []).filter((x) => x.state === "quarantined" && x.last_failure &&
                                        x.last_failure.where === "restore").map((x) => x.symbol);
  return { count, names, text: names.length ? names.join(", ") : "(not named in the status)" };
}

function coveragePill(h) {
  const n = h.unreadable_symbols || 0;
  const r = Number(h.restoring_symbols) || 0;  // not restored yet: their holdings not counted yet
  // green only for a coverage that is a number and full ("NaN" or none is not all-clear)
  const full = Number(h.ts_coverage) >= 1 && !n;
  return el("span", { class: "pill " + (full ? (r ? "warn" : "ok") : "bad"), "data-testid": "coverage",
                      text: `stops ${h.protected_positions}/${h.open_positions}` + (n ? ` + ${n} unknown` : "") +
                        (r ? ` + ${r} restoring` : "") });
}

function warning(testid, text) { return el("div", { class: "alert", "data-testid": testid, text }); }

function accountWarnings(a) {
  const out = [];
  const u = unreadableOf(a);
  if (u.count) out.push(warning("unreadable", `STATE UNREADABLE ${u.count} symbol${u.count === 1 ? "" : "s"}` +
    ` (not counted): ${u.text}. What they hold on the exchange is unknown and in no count above:` +
    " check it there, then repair the stored state."));
  const r = Number(a.health && a.health.restoring_symbols) || 0;
  if (r) out.push(warning("restoring", `RESTORING ${r} symbol${r === 1 ? "" : "s"} (not counted yet): ` +
    "their actors have not restored their state since the start or restart; what they hold is in no count above yet"));
  // the protections' first pass has not read the ledger: its figures above read "-", not 0
  if (a.pnl && a.pnl.unknown) out.push(warning("pnl-unknown", `P&L UNKNOWN: ${a.pnl.unknown}`));
  if (a.pnl && a.pnl.not_current) out.push(warning("pnl-not-current", `P&L NOT CURRENT: ${a.pnl.not_current}`));
  // its text dates the escalations shown (as last read at <time>, or not read yet: not none)
  if (a.database) out.push(warning("database", `DATABASE ${a.database} (the P&L below is as last read)`));
  const quarantined = (a.actors || []).filter((x) => x.state === "quarantined" && !u.names.includes(x.symbol));
  if (quarantined.length) out.push(warning("quarantined", `QUARANTINED ${quarantined.length}: ` +
    quarantined.map((x) => x.symbol).join(", ") + " (no trading on them until resumed)"));
  // a position its actor has not checked against the exchange: as the books last held it
  const unchecked = (a.actors || []).filter((x) => x.position && x.state === "running" && x.reconciled === false);
  if (unchecked.length) out.push(warning("unreconciled", `NOT RECONCILED with the exchange: ` +
    unchecked.map((x) => x.symbol).join(", ") + " (position and stop as last known; its answers fail, retried)"));
  const st = a.streams;
  if (st && (st.mode !== "stream" || !st.connected)) out.push(warning("streams",
    `STREAMS DOWN: mode ${st.mode}, connected ${st.connected ? "yes" : "no"}, last message ` +
    `${st.last_message_age_s === null || st.last_message_age_s === undefined ? "-" : fmt(st.last_message_age_s, 1) + " s"} ago` +
    // the last error outlives its outage: when it happened, never as if it were the cause now
    (st.last_error ? ` (last error ${typeof st.last_error_at === "number" ? "at " + ts(st.last_error_at)
                                                                          : "time unknown"}: ${st.last_error})` : "")));
  if (st && st.silent_symbols) out.push(warning("streams-silent",
    `no stream price for ${st.silent_symbols} symbol(s), polled by REST: ${(st.silent || []).join(", ")}`));
  // a position owed its emergency close, or closed with its fill not booked yet
  for (const o of a.emergency_closes_owed || []) out.push(warning("emergency-owed",
    `EMERGENCY CLOSE OWED ${o.symbol}${o.listed === false ? " (not in symbols.list)" : ""}: ` +
    (o.failed_runs ? `failed ${o.failed_runs} time${o.failed_runs === 1 ? "" : "s"}` : "not run yet") +
    (o.last_error ? ` (${o.last_error})` : "") + (o.next_retry_at ? `; next try ${ts(o.next_retry_at)}` : "")));
  for (const u of a.emergency_closes_not_booked || []) out.push(warning("emergency-not-booked",
    `EMERGENCY CLOSE SENT ${u.symbol}: its fill is not booked yet (the symbol's actor is stopped)`));
  if (a.worker_alive === false) out.push(warning("worker",
    `WORKER ${a.worker} NOT ALIVE: this account's figures are ${fmt(a.snapshot_age_s, 0)} s old`));
  return out;
}

function botWarnings(b) {
  const age = b.heartbeat_age_s ?? (b.heartbeat_at ? Math.max(0, Date.now() / 1000 - b.heartbeat_at) : null);
  const ago = age === null ? "never" : `${fmt(age, 0)} s ago`;
  if (!b.running) return [warning("bot-stopped", `BOT NOT RUNNING: last heartbeat ${ago}; below is its last status`)];
  if (b.heartbeat_stale) return [warning("stale",
    `BOT NOT UPDATING ITS STATUS: last heartbeat ${ago}; what follows may no longer be true`)];
  return [];
}

function table(headers, rows, id) {
  const t = el("table", id ? { id } : {});
  t.append(el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const r of rows) body.append(r);
  t.append(body);
  return el("div", { class: "scroll" }, t);
}

const OLD_PRICE_S = 60;  // supervision/status.py OLD_PRICE_S

function positionsTable(account, actors, unreadable, restoring) {
  const rows = [];
  for (const a of actors) {
    const p = a.position;
    if (!p) continue;
    const legs = p.legs || [{ ...p, stop_price: a.stop_price, protected: a.protected }];
    // mark and uPnL from the symbol's last tick, or after a start its reconciliation's read:
    // past a minute its age is said (as /status does; supervision/status.py mark_age)
    const age = a.price_age_s === undefined ? a.last_tick_age_s : a.price_age_s, old = typeof age === "number" && age >= OLD_PRICE_S;
    for (const leg of legs) {
      const t = a.trailing;
      // the stop and whether it is on the exchange come first: on a phone they stay in view
      rows.push(el("tr", { "data-symbol": a.symbol, class: "position" },
        el("td", { text: a.symbol }), el("td", { text: `${leg.side} ${leg.contracts}` }),
        el("td", { class: "stop", text: price(leg.stop_price ?? leg.stop) }),
        el("td", { class: leg.protected ? "pos" : "neg", text: leg.protected ? "protected" : "NOT PROTECTED" }),
        // a hedge leg's own figures: the position's are both legs summed (actors/grid_view.py)
        el("td", { class: signClass(leg.unrealized_pnl), text: fmt(leg.unrealized_pnl, 4) }),
        el("td", { text: price(leg.entry_price ?? leg.entry) }),
        el("td", old ? { class: "neg", text: `${price(leg.mark_price ?? p.mark_price)} (price ${fmt(age, 0)} s old)` }
                     : { text: price(leg.mark_price ?? p.mark_price) }),
        el("td", { text: t ? `${t.state} @ ${price(t.trigger_price || t.activation_price)}` : "-" }),
        // a hedge grid (its legs) takes no close: the server refuses it (dashboard/controls.py)
        el("td", p.legs ? { title: "a hedge grid trades its own levels: pause the account or use the kill switch", text: "-" }
                        : {}, ...(p.legs ? [] : [button("close", account, "close", { symbol: a.symbol }, true)]))));
    }
  }
  if (unreadable.count) rows.push(el("tr", { class: "unknown" }, el("td", { class: "neg", colspan: "9",
    text: `positions of ${unreadable.count} unreadable symbol(s) unknown: ${unreadable.text}` })));
  if (restoring) rows.push(el("tr", { class: "restoring" }, el("td", { class: "neg", colspan: "9",
    text: `positions of ${restoring} symbol(s) still restoring: not known yet` })));
  if (!rows.length) rows.push(el("tr", {}, el("td", { class: "muted", colspan: "9", text: "no open position" })));
  return table(["symbol", "position", "stop", "exchange stop", "uPnL", "entry", "mark", "trailing", ""], rows);
}

// kept after the actor runs again (restarted): when it happened, never as if it were now
function failureNote(f) {
  return f ? `last failure at ${ts(f.time)} (${f.where}): ${f.error}` : "";
}

function actorsTable(account, actors) {
  return table(["symbol", "state", "phase", "restarts", "close fails", "mailbox", "tick age", "note", ""],
    actors.map((a) => el("tr", { "data-actor": a.symbol },
      el("td", { text: a.symbol }), el("td", { class: a.state === "running" ? "" : "neg", text: a.state }),
      el("td", { text: a.phase || "-" }), el("td", { text: a.restarts }), el("td", { text: a.close_failures }),
      el("td", { text: a.mailbox }),
      el("td", { text: a.last_tick_age_s === null ? "-" : `${fmt(a.last_tick_age_s, 1)}s` }),
      el("td", { class: a.strategy_off ? "wrap neg" : "wrap", text: a.quarantine_reason ||
        (a.strategy_off ? `STRATEGY OFF: ${a.strategy_off}` : "") || failureNote(a.last_failure) }),
      el("td", {}, a.state === "quarantined" ? button("resume", account, "resume", { symbol: a.symbol }) : ""))));
}

function accountsOf(status) {
  if (status.accounts && Object.keys(status.accounts).length) return status.accounts;
  if (Array.isArray(status.bot.accounts)) return {};  // --workers, none reported yet
  return { main: status };
}

// With --workers, a configured account whose worker never wrote its snapshot (dead or hung
// before it, or still starting) is in no account of the status: what it holds is unknown.
function missingAccounts(status) {
  const shown = accountsOf(status), workers = status.bot.workers || [];
  const configured = Array.isArray(status.bot.accounts) ? status.bot.accounts : [];
  return configured.filter((n) => !Object.hasOwn(shown, n)).map((n) => {
    const w = workers.find((x) => (x.accounts || []).includes(n));
    const who = !w ? "no worker runs it" : w.alive ? `worker ${w.index} has not reported it yet` :
      `worker ${w.index} NOT ALIVE` + (w.last_exit === null || w.last_exit === undefined ? "" : `, last exit ${w.last_exit}`);
    return warning("account-missing", `ACCOUNT ${n}: NO STATUS (${who}): its positions and stops are unknown`);
  });
}

// A render replaces the buttons: one that lands between a person's press and release loses the
// click (or, with rows shifting, puts another symbol's button under the pointer). While a
// pointer is pressed, the newest status waits and is drawn on release.
// (A release outside the window may never arrive: after 2 s the page draws regardless.)
let pressedAt = 0, waiting = null;
document.addEventListener("pointerdown", () => { pressedAt = Date.now(); }, true);
for (const end of ["pointerup", "pointercancel"]) {
  document.addEventListener(end, () => {
    pressedAt = 0;
    if (waiting) { const s = waiting; waiting = null; setTimeout(() => render(s), 0); }
  }, true);
}

function render(status) {
  if (pressedAt && Date.now() - pressedAt < 2000) { waiting = status; return; }
  state.status = status;
  const b = status.bot;
  const age = b.heartbeat_age_s ?? (b.heartbeat_at ? Math.max(0, Date.now() / 1000 - b.heartbeat_at) : null);
  $("#bot-line").textContent = `${b.running ? "running" : "stopped"} · ${b.mode} · version ${b.version} · pid ${b.pid}` +
    ` · heartbeat ${age === null ? "-" : age.toFixed(1) + "s ago"}`;
  $("#bot-alerts").replaceChildren(...botWarnings(b), ...missingAccounts(status));
  const root = $("#accounts");
  const charts = {};
  for (const node of root.querySelectorAll(".equity, .trades")) charts[node.className + node.dataset.account] = node;
  root.replaceChildren();
  const accounts = accountsOf(status);
  for (const [name, a] of Object.entries(accounts)) {
    const card = renderAccount(name, a);
    for (const node of card.querySelectorAll(".equity, .trades")) {  // keep the slower views
      const old = charts[node.className + name];
      if (old) node.replaceWith(old);
    }
    root.append(card);
  }
  const select = $("#detail-symbol");
  const symbols = [];
  for (const [name, a] of Object.entries(accounts)) for (const x of a.actors) symbols.push([name, x.symbol]);
  const key = JSON.stringify(symbols);
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(...symbols.map(([n, s]) => el("option", { value: JSON.stringify([n, s]),
      text: Object.keys(accounts).length > 1 ? `${n} · ${s}` : s })));
    startDetail(true);
  }
}

// -- slower views: equity, trades, journal, log ---------------------------------------------------
function drawEquity(node, points) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", "0 0 1000 160");
  svg.setAttribute("preserveAspectRatio", "none");
  if (points.length > 1) {
    const ys = points.map((p) => Number(p.equity));
    const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
    // labelled with the ledger's own figures, rounded as decimals like every amount here
    // (lo.toFixed(2) read 10500.005 as 10500.00 where the KPI read 10500.01)
    const label = (v) => fmt(points[ys.indexOf(v)].equity);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", ys.map((y, i) =>
      `${(i / (ys.length - 1)) * 1000},${150 - ((y - lo) / span) * 140}`).join(" "));
    svg.append(line);
    const title = document.createElementNS(ns, "title");
    title.textContent = `from ${label(lo)} to ${label(hi)}`;
    svg.append(title);
  }
  node.replaceChildren(svg, el("div", { class: "muted", text: points.length ?
    `${points.length} points · now ${fmt(points[points.length - 1].equity)}` : "no fills yet" }));
}

// A view that could not be read says why in place of its last content (a database error kept
// the last chart, trades and journal on the page as if current).
function failed(r) {
  return el("div", { class: "neg", "data-testid": "view-failed",
                     text: `not current: ${(r.body && r.body.reason) || `HTTP ${r.status}`}` });
}

// Loads of the slower views are numbered as they start and an answer older than the one drawn
// last is not drawn (one answered late put an older chart and trade list back until the next
// refresh). An account's views are aria-busy while a load of them is out.
let extrasStarted = 0;
const extrasShown = {};
const extrasOut = {};
async function loadExtras() {
  if (!state.status) return;
  const seq = ++extrasStarted;
  await Promise.all(Object.keys(accountsOf(state.status)).map((name) => loadAccountViews(name, seq)));
}
function accountViews(name) {
  const a = CSS.escape(name);
  return document.querySelectorAll(`.equity[data-account="${a}"], .trades[data-account="${a}"]`);
}
function viewsBusy(name, change) {
  extrasOut[name] = (extrasOut[name] || 0) + change;
  for (const node of accountViews(name)) node.setAttribute("aria-busy", extrasOut[name] ? "true" : "false");
}
async function loadAccountViews(name, seq) {
  viewsBusy(name, 1);
  try {
    const q = `account=${encodeURIComponent(name)}`;
    const [eq, tr] = await Promise.all([api(`/api/equity?${q}`), api(`/api/trades?${q}&limit=20`)]);
    if (seq < (extrasShown[name] || 0)) return;
    extrasShown[name] = seq;
    const chart = document.querySelector(`.equity[data-account="${CSS.escape(name)}"]`);
    if (chart && eq.ok) drawEquity(chart, eq.body.points);
    else if (chart) chart.replaceChildren(failed(eq));
    const trades = document.querySelector(`.trades[data-account="${CSS.escape(name)}"]`);
    if (trades && !tr.ok) trades.replaceChildren(failed(tr));
    else if (trades) trades.replaceChildren(table(["closed", "symbol", "side", "entry", "net", "reason"],
      tr.body.trades.map((t) => el("tr", {}, el("td", { text: ts(t.closed_at) }), el("td", { text: t.symbol }),
        el("td", { text: t.side }), el("td", { text: price(t.entry_price) }),
        el("td", { class: signClass(t.net_pnl), text: fmt(t.net_pnl, 4) }), el("td", { text: t.close_reason || "-" })))));
  } finally { viewsBusy(name, -1); }
}

// Loads are numbered as they start; an answer older than the one drawn last is dropped. A refresh
// answered late (after a newer refresh was drawn and a page of older events appended under it)
// wiped the page back to the newest 30 events. #journal is aria-busy while a load is out.
let detailStarted = 0;
let detailShown = 0;
let detailOut = 0;
async function loadDetail(reset) {
  const raw = $("#detail-symbol").value;
  if (!raw) return;
  const seq = ++detailStarted;
  detailOut += 1;
  $("#journal").setAttribute("aria-busy", "true");
  try { await drawDetail(reset, raw, seq); } finally {
    detailOut -= 1;
    if (!detailOut) $("#journal").setAttribute("aria-busy", "false");
  }
}
async function drawDetail(reset, raw, seq) {
  const [account, symbol] = JSON.parse(raw);
  const q = `account=${encodeURIComponent(account)}&symbol=${encodeURIComponent(symbol)}`;
  const before = !reset && state.journalBefore ? `&before_id=${state.journalBefore}` : "";
  // bounded: a press of "older events" waits for this load (detailDrawn); one never answered held it
  const bound = () => ({ signal: AbortSignal.timeout(15000) });
  const [j, l] = await Promise.all([api(`/api/journal?${q}&limit=30${before}`, bound()),
    api(`/api/logs?${q}&lines=80`, bound())]);
  // another symbol chosen meanwhile: a late answer for this one is not drawn under its name
  if ($("#detail-symbol").value !== raw || seq < detailShown) return;
  detailShown = seq;
  const body = $("#journal tbody");
  if (reset) body.replaceChildren();
  if (j.ok) {
    for (const e of j.body.events)
      body.append(el("tr", { class: "event" }, el("td", { text: e.id }), el("td", { text: ts(e.created_at) }),
        el("td", { text: e.type }), el("td", { class: "wrap", text: JSON.stringify(e.data) })));
    state.journalBefore = j.body.next_before_id;
  } else if (reset) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "4" }, failed(j))));
    state.journalBefore = null;
  }
  $("#log-tail").textContent = l.ok ? l.body.lines.join("\n") : ((l.body && l.body.reason) || "");
}
// A press of "older events" waits for the detail's newest load to be drawn, and presses go one
// after another: sent at once, a press while the previous page was on its way asked for the same
// before_id and the same page was appended twice, and a press just after the oldest page read a
// before_id not cleared yet. A change of symbol or a refresh never waits (a slow answer for one
// symbol must not hold another's).
let detailLoad = Promise.resolve();
let olderPresses = Promise.resolve();
function startDetail(reset) {
  detailLoad = loadDetail(reset);
  return detailLoad;
}
async function detailDrawn() {
  let load;
  do { load = detailLoad; await load.catch(() => {}); } while (load !== detailLoad);
}
$("#detail-symbol").addEventListener("change", () => { state.paged = false; startDetail(true); });
$("#journal-older").addEventListener("click", () => {
  state.paged = true;
  olderPresses = olderPresses.then(async () => {
    await detailDrawn();
    // past the oldest page there is no before_id: asking without one appended the newest again
    if (state.journalBefore === null) { message("no older events", true); return; }
    await startDetail(false);
  }).catch(() => {});
});

// -- live updates -------------------------------------------------------------------------------
// The live feed; when the server ends it for good (``closed``: a newer page of this address took
// its place) or refuses it (too many open), the page polls /api/status instead.
let polling = null;
function poll(reason) {
  const conn = $("#conn");
  conn.textContent = "polling";
  conn.className = "pill warn";
  conn.title = reason;
  if (polling) return;
  const tick = async () => {
    const r = await api("/api/status").catch(() => ({ ok: false }));
    if (r.ok && r.body) { conn.textContent = "polling"; conn.className = "pill warn"; render(r.body); }
    else if (r.status === 401) {  // the session ended (logout, expiry): say so, offer the login
      conn.textContent = "logged out"; conn.className = "pill warn";
      conn.title = "log in again to see the status";
      if (!state.loggedOut) {
        state.loggedOut = true;
        await refreshSession();
        message(state.hadSession ? "session ended: log in again" : "log in to see the status",
                false);
      }
    }
    else if (r.status === 503 && r.body && r.body.reason) unavailable(r.body.reason);
    else { conn.textContent = "unreachable"; conn.className = "pill bad"; }
  };
  tick();
  polling = setInterval(tick, 2000);
}

// No status to show (not written yet, or status.json unreadable): said in red, never the last
// one drawn left looking live.
function unavailable(reason) {
  const conn = $("#conn");
  conn.textContent = "no status";
  conn.className = "pill bad";
  conn.title = reason;
  $("#bot-alerts").replaceChildren(warning("no-status", `NO STATUS: ${reason}` +
    (state.status ? "; what follows is the last status read, no longer current" : "")));
}

function connect() {
  const conn = $("#conn");
  const source = new EventSource("/api/events");
  source.addEventListener("status", (ev) => {
    conn.textContent = "live";
    conn.className = "pill ok";
    render(JSON.parse(ev.data));
  });
  source.addEventListener("unavailable", (ev) => {
    let reason = "no status";
    try { reason = JSON.parse(ev.data).reason; } catch (e) { /* keep the default */ }
    unavailable(reason);
  });
  source.addEventListener("closed", (ev) => {
    source.close();
    let reason = "the live feed was closed";
    try { reason = JSON.parse(ev.data).reason; } catch (e) { /* keep the default */ }
    poll(reason);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) { poll("the live feed was refused"); return; }
    conn.textContent = "reconnecting"; conn.className = "pill bad";
  };
}

(async function main() {
  await refreshSession();
  connect();
  setTimeout(loadExtras, 500);
  setInterval(loadExtras, 5000);
  setInterval(() => { if (!state.paged) startDetail(true); }, 5000);  // never undo a person's paging
})();
