// Whalecast dashboard: signs in with a token, shows the live alerts and their lifecycle,
// the connection's state and the engine's stats. docs/dashboard.md describes it.
//
// Rules this file keeps: the token lives in sessionStorage only and travels in the
// WebSocket's first message and in Authorization headers, never in a URL; everything the
// engine sends is written with textContent, never parsed as HTML; no inline script or
// style (the page's Content-Security-Policy forbids both).
"use strict";

(() => {
  const TOKEN_KEY = "whalecast.token";
  // Alert rows kept on the page; the oldest go first.
  const MAX_ALERTS = 500;
  // Records a fresh page asks the engine to replay before the live ones.
  const HISTORY = 500;
  const STATS_EVERY_MS = 5000;
  // Reconnect backoff: doubles from the minimum up to the maximum, with jitter.
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  // The engine refreshes tokens in their last hour by default (--refresh-window). The page
  // asks ten minutes into that hour, leaving room for retries, and never more often than
  // REFRESH_MIN_GAP_MS (tokens shorter than an hour are always inside the window).
  const REFRESH_LEAD_MS = 50 * 60 * 1000;
  const REFRESH_MIN_GAP_MS = 5 * 60 * 1000;
  const REFRESH_RETRY_MIN_MS = 30 * 1000;
  // Close codes after which the same token must not be tried again (docs/protocol.md).
  const NO_RETRY = new Set([4000, 4003]);
  // REST statuses that refuse the token itself: 401 (bad credential), 403 (no read).
  const REFUSED = new Set([401, 403]);

  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    ws: null,
    // gen changes on every connect and sign-out: events of an older socket are ignored.
    gen: 0,
    // session changes on every sign-in and sign-out: late stats answers are dropped.
    session: 0,
    // lastSeq is the highest record seq seen; null until the first connection is set up.
    lastSeq: null,
    // since is what the current connection's auth message asked for (0 for none).
    since: 0,
    attempt: 0,
    expiresAt: 0,
    lastRefresh: 0,
    // rows maps an alert's seq to its table row.
    rows: new Map(),
    timers: { reconnect: 0, countdown: 0, refresh: 0, stats: 0 },
  };

  // ---- connection state -------------------------------------------------------------

  function setConn(name, text) {
    const el = $("conn");
    el.dataset.state = name;
    el.textContent = text || name;
  }

  function notice(text) {
    const el = $("notice");
    el.textContent = text;
    el.hidden = !text;
  }

  function clearTimers() {
    clearTimeout(state.timers.reconnect);
    clearInterval(state.timers.countdown);
    clearTimeout(state.timers.refresh);
    clearInterval(state.timers.stats);
    state.timers = { reconnect: 0, countdown: 0, refresh: 0, stats: 0 };
  }

  // ---- sign in and out --------------------------------------------------------------

  function showSignIn(error) {
    $("dash-view").hidden = true;
    $("signin-view").hidden = false;
    $("signout").hidden = true;
    const err = $("signin-error");
    err.textContent = error || "";
    err.hidden = !error;
    $("token").focus();
  }

  function showDashboard() {
    $("signin-view").hidden = true;
    $("dash-view").hidden = false;
    $("signout").hidden = false;
  }

  function signIn(token) {
    state.token = token;
    state.session++;
    state.lastSeq = null;
    state.attempt = 0;
    state.lastRefresh = 0;
    clearAlerts();
    notice("");
    showDashboard();
    connect();
  }

  // stop forgets the token and the session: it closes the socket, stops every timer and
  // clears what the page shows.
  function stop() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.session++;
    state.gen++;
    clearTimers();
    if (state.ws) {
      state.ws.close(1000, "signed out");
      state.ws = null;
    }
    state.lastSeq = null;
    clearAlerts();
    clearSession();
    $("stats").replaceChildren();
    $("stats-error").hidden = true;
  }

  function signOut() {
    stop();
    setConn("signed-out", "signed out");
    showSignIn("");
  }

  function authFailed(code, reason) {
    stop();
    const why = reason || "the engine refused the token";
    setConn("auth-failed", "auth failed: " + why);
    showSignIn("Sign-in failed (" + code + "): " + why);
  }

  function clearSession() {
    for (const id of ["session-client", "session-perms", "session-expires", "session-seq"]) {
      $(id).textContent = "-";
    }
    $("session-refreshed").textContent = "never";
  }

  // ---- WebSocket --------------------------------------------------------------------

  function wsURL() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + "/ws";
  }

  // historyStart asks the stats for the latest seq before a page's first connection, so
  // that it replays the last HISTORY records rather than the whole store. The same call
  // checks the token: a refused one is reported without opening a WebSocket, so a wrong
  // token costs one auth failure (the engine bans an IP after a few). It returns the since
  // to resume from, null when the stats cannot be had (the page then starts live), or
  // {refused} with the REST error.
  async function historyStart() {
    try {
      const stats = await getStats();
      showStats(stats);
      return { since: Math.max(0, Number(stats.last_seq) - HISTORY) || 0 };
    } catch (e) {
      if (REFUSED.has(e.status)) {
        return { refused: e };
      }
      notice("No history: " + e.message);
      return { since: null };
    }
  }

  async function connect() {
    const gen = ++state.gen;
    setConn("connecting", "connecting");
    let since = state.lastSeq;
    if (since === null) {
      const start = await historyStart();
      if (gen !== state.gen) {
        return;
      }
      if (start.refused) {
        const e = start.refused;
        authFailed(e.status, e.status === 403 ? "the token lacks the read permission" :
          e.reason || e.message);
        return;
      }
      since = start.since;
    }
    const ws = new WebSocket(wsURL());
    state.ws = ws;
    ws.onopen = () => {
      if (gen !== state.gen) {
        return;
      }
      const auth = { type: "auth", token: state.token };
      state.since = 0;
      if (since !== null) {
        auth.since = since;
        state.since = since;
        state.lastSeq = Math.max(state.lastSeq ?? 0, since);
      }
      ws.send(JSON.stringify(auth));
    };
    ws.onmessage = (ev) => {
      if (gen === state.gen) {
        onMessage(ev.data);
      }
    };
    ws.onclose = (ev) => {
      if (gen === state.gen) {
        onClose(ev);
      }
    };
  }

  function onClose(ev) {
    state.ws = null;
    clearTimeout(state.timers.refresh);
    if (!state.token) {
      return;
    }
    if (NO_RETRY.has(ev.code)) {
      authFailed(ev.code, ev.reason);
      return;
    }
    scheduleReconnect(ev.code);
  }

  function scheduleReconnect(code) {
    state.attempt++;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (state.attempt - 1));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    const due = Date.now() + delay;
    const show = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setConn("reconnecting", "reconnecting in " + left + "s (closed " + code + ")");
    };
    show();
    clearInterval(state.timers.countdown);
    state.timers.countdown = setInterval(show, 1000);
    clearTimeout(state.timers.reconnect);
    state.timers.reconnect = setTimeout(() => {
      clearInterval(state.timers.countdown);
      connect();
    }, delay);
  }

  function onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return;
    }
    switch (msg.type) {
      case "auth_success":
        onAuthSuccess(msg);
        break;
      case "welcome":
        onWelcome(msg);
        break;
      case "whale_alert":
        if (isNew(msg.seq)) {
          upsertAlert(msg.seq, msg.data, null);
        }
        break;
      case "alert_update":
        if (isNew(msg.seq)) {
          upsertAlert(msg.data.alert_seq, msg.data, msg.seq);
        }
        break;
      case "token_refreshed":
        onTokenRefreshed(msg);
        break;
      case "error":
        onError(msg);
        break;
      case "operator_alert":
        notice("Operator alert: " + String(msg.message || msg.kind));
        break;
    }
  }

  // isNew records seq as seen and reports whether it is past every seq seen before; the
  // engine sends none twice, and this keeps a row from being applied twice if it did.
  function isNew(seq) {
    if (typeof seq !== "number" || (state.lastSeq !== null && seq <= state.lastSeq)) {
      return false;
    }
    state.lastSeq = seq;
    $("session-seq").textContent = String(seq);
    return true;
  }

  function onWelcome(msg) {
    state.attempt = 0;
    if (state.lastSeq === null && typeof msg.seq === "number") {
      // Started without history: live from the engine's latest seq.
      state.lastSeq = msg.seq;
    }
    if (typeof msg.seq === "number" && msg.seq < state.since) {
      // The engine holds less than this page saw (a new data directory): its seqs start
      // again, so start the page again rather than skip them as already seen.
      restart();
      return;
    }
    setConn("live", "live");
    if (!state.timers.stats) {
      state.timers.stats = setInterval(fetchStats, STATS_EVERY_MS);
    }
  }

  function restart() {
    state.gen++;
    if (state.ws) {
      state.ws.close(1000, "starting again");
      state.ws = null;
    }
    state.lastSeq = null;
    clearAlerts();
    notice("The engine's history restarted; alerts were reloaded.");
    connect();
  }

  function onAuthSuccess(msg) {
    $("session-client").textContent = String(msg.client_id);
    $("session-perms").textContent = (msg.permissions || []).join(", ");
    state.expiresAt = Date.parse(msg.expires_at) || 0;
    $("session-expires").textContent = utc(msg.expires_at);
    scheduleRefresh(0);
  }

  function onError(msg) {
    switch (msg.code) {
      case "refresh_too_early":
        // The engine's window is shorter than the page assumed: try again later.
        scheduleRefresh(Math.max(REFRESH_RETRY_MIN_MS, (state.expiresAt - Date.now()) / 2));
        break;
      case "token_expired":
      case "token_revoked":
        // The 4003 close that follows signs the page out.
        break;
      default:
        notice("Engine error: " + String(msg.code) +
          (msg.message ? " (" + String(msg.message) + ")" : ""));
    }
  }

  // ---- token refresh ----------------------------------------------------------------

  // scheduleRefresh plans the next in-band refresh: REFRESH_LEAD_MS before expiry, or after
  // retryIn when the engine said it was too early, never sooner than REFRESH_MIN_GAP_MS after
  // the last one, and never once the token has expired.
  function scheduleRefresh(retryIn) {
    clearTimeout(state.timers.refresh);
    const now = Date.now();
    const left = state.expiresAt - now;
    if (!state.expiresAt || left <= 0) {
      return;
    }
    let at = retryIn > 0 ? now + retryIn : state.expiresAt - REFRESH_LEAD_MS;
    if (state.lastRefresh) {
      at = Math.max(at, state.lastRefresh + Math.min(REFRESH_MIN_GAP_MS, left / 2));
    }
    at = Math.max(at, now + 1000);
    if (at >= state.expiresAt) {
      return;
    }
    state.timers.refresh = setTimeout(sendRefresh, at - now);
  }

  function sendRefresh() {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify({ type: "refresh" }));
    }
  }

  function onTokenRefreshed(msg) {
    if (typeof msg.token !== "string" || !msg.token) {
      return;
    }
    state.token = msg.token;
    sessionStorage.setItem(TOKEN_KEY, msg.token);
    state.lastRefresh = Date.now();
    state.expiresAt = Date.parse(msg.expires_at) || 0;
    $("session-expires").textContent = utc(msg.expires_at);
    $("session-refreshed").textContent = utc(new Date().toISOString());
    scheduleRefresh(0);
  }

  // ---- alerts -----------------------------------------------------------------------

  function clearAlerts() {
    state.rows.clear();
    document.querySelector("#alerts tbody").replaceChildren();
    updateCount();
  }

  function updateCount() {
    $("alert-count").textContent = String(state.rows.size);
    $("no-alerts").hidden = state.rows.size > 0;
  }

  // upsertAlert creates or updates the row of alert alertSeq from a whale_alert (updateSeq
  // null) or an alert_update (updateSeq its own seq). An update whose alert is not on the
  // page (older than the replay) gets a row of its own from what the update carries.
  function upsertAlert(alertSeq, data, updateSeq) {
    if (typeof alertSeq !== "number" || !data) {
      return;
    }
    let row = state.rows.get(alertSeq);
    if (!row) {
      row = newRow(alertSeq, data);
      state.rows.set(alertSeq, row);
      insertRow(row.tr, alertSeq);
    }
    if (updateSeq !== null) {
      row.updates++;
    }
    setStatus(row, data, updateSeq !== null);
    trimAlerts();
    updateCount();
  }

  function newRow(alertSeq, data) {
    const tr = document.createElement("tr");
    tr.dataset.seq = String(alertSeq);
    tr.dataset.txid = String(data.txid || "");
    if (data.test) {
      tr.classList.add("test");
    }
    const cell = (text, cls) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) {
        td.className = cls;
      }
      tr.appendChild(td);
      return td;
    };
    cell(String(alertSeq), "num");
    cell(data.first_seen ? utc(data.first_seen) : "-");
    const tx = cell(String(data.txid || ""), "txid");
    tx.title = String(data.txid || "");
    cell(btc(data.value_btc), "num");
    const det = cell(String(data.detector || ""));
    if (data.test) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "test";
      det.append(" ", tag);
    }
    const status = cell("", "status");
    return { tr, status, updates: 0 };
  }

  // insertRow keeps the rows newest first (highest alert seq at the top).
  function insertRow(tr, alertSeq) {
    const body = document.querySelector("#alerts tbody");
    for (const other of body.children) {
      if (Number(other.dataset.seq) < alertSeq) {
        body.insertBefore(tr, other);
        return;
      }
    }
    body.appendChild(tr);
  }

  function trimAlerts() {
    while (state.rows.size > MAX_ALERTS) {
      const oldest = Math.min(...state.rows.keys());
      state.rows.get(oldest).tr.remove();
      state.rows.delete(oldest);
    }
  }

  // setStatus shows an alert's lifecycle status: mempool, confirmed (with confirmations),
  // replaced, conflicted, dropped, reorged; final once settled.
  function setStatus(row, data, isUpdate) {
    const status = String(data.status || "mempool");
    const parts = [status];
    if (status === "confirmed" && typeof data.confirmations === "number") {
      parts.push(data.confirmations + (data.confirmations === 1 ? " conf" : " confs"));
    }
    if (data.replaced_by) {
      parts.push("by " + short(data.replaced_by));
    }
    if (data.conflicted_by) {
      parts.push("by " + short(data.conflicted_by));
    }
    if (isUpdate && data.final) {
      parts.push("final");
    }
    row.tr.dataset.status = status;
    row.tr.dataset.final = String(Boolean(isUpdate && data.final));
    if (typeof data.confirmations === "number") {
      row.tr.dataset.confirmations = String(data.confirmations);
    }
    row.status.className = "status status-" + status.replace(/[^a-z]/g, "");
    if (isUpdate && data.final) {
      row.status.classList.add("final");
    }
    row.status.textContent = parts.join(" · ");
  }

  // ---- stats ------------------------------------------------------------------------

  async function getStats() {
    const resp = await fetch("/api/v1/stats", {
      headers: { Authorization: "Bearer " + state.token },
      cache: "no-store",
      credentials: "omit",
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = new Error(resp.status + " " + String(body.error || "") +
        (body.reason ? ": " + String(body.reason) : ""));
      err.status = resp.status;
      err.reason = body.reason ? String(body.reason) : String(body.error || "");
      throw err;
    }
    return body;
  }

  async function fetchStats() {
    if (!state.token || document.visibilityState === "hidden") {
      return;
    }
    const session = state.session;
    const err = $("stats-error");
    try {
      const stats = await getStats();
      if (session === state.session) {
        showStats(stats);
        err.hidden = true;
      }
    } catch (e) {
      if (session === state.session) {
        err.textContent = "Stats unavailable: " + e.message;
        err.hidden = false;
      }
    }
  }

  function showStats(s) {
    const lc = s.lifecycle || {};
    const acc = lc.accuracy;
    const conns = s.connections || {};
    const facts = [
      ["version", "Version", s.version],
      ["health", "Health", health(s.health)],
      ["last_seq", "Last seq", s.last_seq],
      ["uptime", "Uptime", duration(s.uptime_seconds)],
      ["connections", "Clients", conns.authenticated],
      ["alerts_stored", "Alerts stored", s.alerts_stored],
      ["updates_stored", "Updates stored", s.updates_stored],
      ["deliveries", "Deliveries", s.deliveries],
      ["tracked", "Tracked", lc.tracked],
      ["settled", "Settled", lc.settled],
      ["chain_tip", "Chain tip", lc.chain_tip],
      ["accuracy", "Accuracy", acc && typeof acc.accuracy === "number" ?
        (100 * acc.accuracy).toFixed(1) + "%" : "-"],
    ];
    const out = [];
    for (const [key, label, value] of facts) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.dataset.key = key;
      dd.textContent = value === undefined || value === null ? "-" : String(value);
      out.push(dt, dd);
    }
    $("stats").replaceChildren(...out);
  }

  // ---- formatting -------------------------------------------------------------------

  function utc(s) {
    const d = new Date(s);
    if (isNaN(d)) {
      return "-";
    }
    return d.toISOString().replace("T", " ").slice(0, 19);
  }

  function btc(v) {
    if (typeof v !== "number") {
      return "-";
    }
    return v.toLocaleString("en-US", { maximumFractionDigits: 8 });
  }

  function health(h) {
    if (!h) {
      return "-";
    }
    return String(h.status) + (h.error ? ": " + String(h.error) : "");
  }

  function short(txid) {
    const s = String(txid);
    return s.length > 16 ? s.slice(0, 8) + "…" + s.slice(-8) : s;
  }

  function duration(seconds) {
    if (typeof seconds !== "number") {
      return "-";
    }
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
  }

  // ---- start ------------------------------------------------------------------------

  function init() {
    $("signin").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("token");
      const token = input.value.trim();
      input.value = "";
      if (!token) {
        showSignIn("Paste a token first.");
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, token);
      signIn(token);
    });
    $("signout").addEventListener("click", signOut);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        fetchStats();
      }
    });
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) {
      signIn(token);
    } else {
      showSignIn("");
    }
  }

  init();
})();
