// The macaroon console's script. Data from agents (paths, hosts, labels, bodies, reasons)
// is only ever set with textContent: nothing here parses data as markup.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // A call to the JSON admin API with the session cookie and the CSRF token.
  async function api(method, path, body) {
    const r = await fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let j = {};
    try { j = await r.json(); } catch (e) { j = {}; }
    if (!r.ok) {
      throw new Error((j.error && j.error.message) || ("the proxy answered " + r.status));
    }
    return j;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function say(target, text, bad) {
    if (!target) return;
    target.textContent = text;
    target.classList.toggle("error", !!bad);
  }

  // An input or select someone is using: a refresh now would lose what they typed.
  function busy() {
    const a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA");
  }

  // ---- Live: the audit stream, newest first ----
  function live() {
    const MAX_ROWS = 500;
    const tbody = document.querySelector("#events tbody");
    const status = document.getElementById("status");
    const filters = document.getElementById("filters");
    const pause = document.getElementById("pause");
    const record = document.getElementById("record");
    const recordJson = document.getElementById("record-json");
    let kept = []; // newest last, at most MAX_ROWS
    let queue = [];
    let scheduled = false;
    let paused = false;
    let seen = 0;
    let dropped = 0;

    function want() {
      const f = new FormData(filters);
      const w = {};
      for (const [k, v] of f.entries()) {
        const t = String(v).trim().toLowerCase();
        if (t) w[k] = t;
      }
      return w;
    }
    let w = want();

    function has(value, needle) {
      return String(value === undefined || value === null ? "" : value).toLowerCase().includes(needle);
    }
    function matches(r) {
      if (w.decision && r.decision !== w.decision) return false;
      if (w.host && !has(r.host, w.host)) return false;
      if (w.issuer && !has(r.issuer, w.issuer)) return false;
      if (w.label && !(r.labels || []).some((l) => has(l, w.label))) return false;
      if (w.family && !has(r.kid, w.family)) return false;
      return true;
    }

    function row(r) {
      const tr = el("tr", "decision-" + (r.decision || "none"));
      const t = String(r.time || "");
      const time = el("td", "time", t.length >= 19 ? t.slice(11, 19) : t);
      time.title = t;
      tr.append(time);
      const d = el("td");
      d.append(el("span", "badge " + (r.decision || ""), r.event && r.event !== "request" ? r.event : r.decision));
      tr.append(d);
      tr.append(el("td", "num", r.status));
      const req = el("td", "request");
      req.append(el("span", "method", r.method || ""), document.createTextNode(" "));
      req.append(el("span", "path", r.path || ""));
      if (r.query) req.append(el("span", "query", "?" + r.query));
      tr.append(req);
      tr.append(el("td", "host", r.host || ""));
      tr.append(el("td", "", r.issuer || ""));
      tr.append(el("td", "", (r.labels || []).join(", ")));
      const reason = el("td", "reason");
      reason.append(el("span", "clamp", r.reason || (r.operator ? "by " + r.operator : "")));
      tr.append(reason);
      tr.addEventListener("click", () => {
        recordJson.textContent = JSON.stringify(r, null, 2);
        record.hidden = false;
      });
      return tr;
    }

    function showStatus() {
      let s = paused ? "Paused. " : "Live. ";
      s += seen + (seen === 1 ? " event" : " events") + " since this page opened; showing the latest " + Math.min(kept.length, MAX_ROWS) + ".";
      if (dropped) s += " " + dropped + " were too many to send and were skipped.";
      status.textContent = s;
    }

    // One DOM update per animation frame, whatever the event rate.
    function flush() {
      scheduled = false;
      if (paused) return;
      const batch = queue.length > MAX_ROWS ? queue.slice(queue.length - MAX_ROWS) : queue;
      queue = [];
      kept = kept.concat(batch);
      if (kept.length > MAX_ROWS) kept = kept.slice(kept.length - MAX_ROWS);
      const frag = document.createDocumentFragment();
      for (let i = batch.length - 1; i >= 0; i--) {
        if (matches(batch[i])) frag.append(row(batch[i]));
      }
      tbody.prepend(frag);
      while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(-1);
      showStatus();
    }
    function schedule() {
      if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(flush);
      }
    }
    function redraw() {
      const frag = document.createDocumentFragment();
      for (let i = kept.length - 1; i >= 0; i--) {
        if (matches(kept[i])) frag.append(row(kept[i]));
      }
      tbody.replaceChildren(frag);
      showStatus();
    }

    filters.addEventListener("input", () => { w = want(); redraw(); });
    filters.addEventListener("submit", (e) => e.preventDefault());
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      if (!paused) schedule();
      showStatus();
    });
    document.getElementById("close").addEventListener("click", () => { record.hidden = true; });

    const es = new EventSource("/api/events?backlog=200");
    es.onopen = showStatus;
    es.onmessage = (e) => {
      let r;
      try { r = JSON.parse(e.data); } catch (err) { return; }
      seen++;
      queue.push(r);
      if (queue.length > 4 * MAX_ROWS) queue = queue.slice(queue.length - MAX_ROWS);
      schedule();
    };
    es.addEventListener("dropped", (e) => {
      try { dropped += JSON.parse(e.data).dropped || 0; } catch (err) { /* ignore */ }
      showStatus();
    });
    es.onerror = () => {
      status.textContent = "The audit stream was interrupted; reconnecting… (if it keeps failing, log in again)";
    };
  }

  // ---- Approvals: approve or deny; the page refreshes when the list changes ----
  function approvals() {
    const section = document.getElementById("approvals");
    for (const f of document.querySelectorAll("form.approve")) {
      f.addEventListener("submit", async (e) => {
        e.preventDefault();
        const id = f.dataset.id;
        const choice = f.elements["for"].value;
        // No "for": what the token's caveat asks (once, or its window).
        const body = {};
        if (choice) body["for"] = choice;
        const path = f.elements["path"].value.trim();
        if (path) body.path = path;
        const out = f.closest("article").querySelector(".result");
        try {
          await api("POST", "/api/approvals/" + encodeURIComponent(id) + "/approve", body);
          say(out, "Approved.");
          location.reload();
        } catch (err) {
          say(out, err.message, true);
        }
      });
    }
    for (const f of document.querySelectorAll("form.deny")) {
      f.addEventListener("submit", async (e) => {
        e.preventDefault();
        const id = f.dataset.id;
        const reason = f.elements["reason"].value.trim();
        const out = f.closest("article").querySelector(".result");
        try {
          await api("POST", "/api/approvals/" + encodeURIComponent(id) + "/deny", reason ? { reason: reason } : {});
          say(out, "Denied.");
          location.reload();
        } catch (err) {
          say(out, err.message, true);
        }
      });
    }
    async function poll() {
      try {
        const r = await fetch("/api/approvals", { credentials: "same-origin" });
        if (r.ok) {
          const list = await r.json();
          const sig = list.map((a) => a.id + ":" + a.state).sort().join(",");
          if (sig !== section.dataset.sig && !busy()) {
            location.reload();
            return;
          }
        }
      } catch (err) { /* try again */ }
      setTimeout(poll, 1000);
    }
    setTimeout(poll, 1000);
  }

  // ---- Tokens: revoke a family or a branch, and undo ----
  function tokens() {
    const out = document.getElementById("revoke-result");
    function undoButton(body) {
      const b = el("button", "quiet", "Undo");
      b.type = "button";
      b.addEventListener("click", async () => {
        try {
          await api("POST", "/api/revocations", Object.assign({}, body, { undo: true }));
          say(out, "Revocation undone.");
        } catch (err) {
          say(out, err.message, true);
        }
      });
      return b;
    }
    async function revoke(body, what) {
      try {
        await api("POST", "/api/revocations", body);
        say(out, what + " revoked: the next request with it is refused. ");
        out.append(undoButton(body));
      } catch (err) {
        say(out, err.message, true);
      }
    }
    for (const b of document.querySelectorAll("button.revoke-family")) {
      b.addEventListener("click", () => revoke({ id: b.dataset.kid, family: true }, "Family " + b.dataset.kid.slice(0, 12)));
    }
    for (const b of document.querySelectorAll("button.undo-family")) {
      b.addEventListener("click", async () => {
        try {
          await api("POST", "/api/revocations", { id: b.dataset.kid, family: true, undo: true });
          location.reload();
        } catch (err) {
          say(out, err.message, true);
        }
      });
    }
    const form = document.getElementById("revoke-branch");
    if (form) {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const v = form.elements["branch"].value.trim();
        const body = /^[0-9a-fA-F]{64}$/.test(v) ? { id: v } : { token: v };
        form.elements["branch"].value = "";
        revoke(body, "Branch");
      });
    }
  }

  // ---- Issuers: add and remove ----
  function issuers() {
    const out = document.getElementById("issuer-result");
    for (const b of document.querySelectorAll("button.remove-issuer")) {
      b.addEventListener("click", async () => {
        try {
          await api("DELETE", "/api/issuers/" + encodeURIComponent(b.dataset.key));
          location.reload();
        } catch (err) {
          say(out, err.message, true);
        }
      });
    }
    const form = document.getElementById("add-issuer");
    if (form) {
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
          await api("POST", "/api/issuers", { key: form.elements["key"].value.trim(), name: form.elements["name"].value.trim() });
          location.reload();
        } catch (err) {
          say(out, err.message, true);
        }
      });
    }
  }

  // ---- Health: counters, with rates from /metrics every few seconds ----
  function health() {
    let last = null;
    async function tick() {
      try {
        const r = await fetch("/metrics", { credentials: "same-origin" });
        const text = await r.text();
        const now = Date.now();
        const values = {};
        for (const line of text.split("\n")) {
          if (!line || line[0] === "#") continue;
          const i = line.lastIndexOf(" ");
          values[line.slice(0, i)] = Number(line.slice(i + 1));
        }
        // Each element with data-prefix shows the sum of the series that start with it.
        const sums = {};
        for (const e of document.querySelectorAll("[data-prefix]")) {
          const prefix = e.dataset.prefix;
          let v = 0;
          let any = false;
          for (const k in values) {
            if (k.startsWith(prefix)) { v += values[k]; any = true; }
          }
          sums[prefix] = v;
          if (!any && last === null) continue;
          e.querySelector(".value").textContent = String(v);
          if (last && last.sums[prefix] !== undefined) {
            const secs = (now - last.at) / 1000;
            if (secs > 0) e.querySelector(".rate").textContent = ((v - last.sums[prefix]) / secs).toFixed(1);
          }
        }
        last = { at: now, sums: sums };
      } catch (err) { /* try again */ }
      setTimeout(tick, 3000);
    }
    tick();
  }

  const views = { live: live, approvals: approvals, tokens: tokens, issuers: issuers, health: health };
  document.addEventListener("DOMContentLoaded", () => {
    const v = views[document.body.dataset.view];
    if (v) v();
  });
})();
