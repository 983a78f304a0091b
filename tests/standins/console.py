"""The web console in a real browser (Debian's chromium, driven by playwright).

Run by tests/tests/console.rs with one argument, a JSON file:
  console, proxy_host, proxy_port, ca, host: where the console and the proxy are;
  admin_token, read_token: operator tokens (admin; read only);
  denied_token: an agent token that may only use /v1/;
  approval_token: an agent token whose every request needs a person's approval;
  branch_token: an agent token the test revokes as a branch;
  shots: a directory for the screenshots.
Each step waits for what a person would see (wait_for_selector with a timeout), never
for a fixed time. Prints one "ok: ..." line per step; any failure raises.
"""

import http.client
import json
import os
import ssl
import sys
import threading
import time

from playwright.sync_api import expect, sync_playwright

cfg = json.load(open(sys.argv[1]))
C = cfg["console"]
SHOTS = cfg["shots"]
MARKUP_BODY = json.dumps(
    {
        "refund": 500,
        "note": "<script>window.__pwned=3</script><img src=x onerror=\"window.__pwned=4\">",
    }
)


START = time.monotonic()


def ok(what):
    print("ok: %s (%.1f s)" % (what, time.monotonic() - START), flush=True)


def call(token, method, path, body=None, timeout=30):
    """An agent's request through the proxy (CONNECT, then TLS to the sealed host).
    http.client sends the path as given, so markup in it reaches the proxy unencoded."""
    ctx = ssl.create_default_context(cafile=cfg["ca"])
    conn = http.client.HTTPSConnection(cfg["proxy_host"], cfg["proxy_port"], context=ctx, timeout=timeout)
    conn.set_tunnel(cfg["host"], 443)
    conn.putrequest(method, path, skip_accept_encoding=True)
    conn.putheader("Authorization", "Bearer " + token)
    data = body.encode() if body is not None else None
    if data is not None:
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    r = conn.getresponse()
    text = r.read().decode(errors="replace")
    conn.close()
    return r.status, text


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, name + ".png"))


def login(page, token):
    page.goto(C + "/login")
    page.fill('textarea[name="token"]', token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/live", timeout=5000)


def not_run(page):
    assert page.evaluate("window.__pwned") is None, "markup from an agent ran in the console"


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=cfg.get("chromium", "/usr/bin/chromium"), args=["--no-sandbox"])
    ctx = browser.new_context(viewport={"width": 1280, "height": 760})
    page = ctx.new_page()
    csp_errors = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    # Before login: the login form, no cookie, the security headers.
    resp = page.goto(C + "/")
    assert page.url.endswith("/login"), page.url
    h = resp.headers
    csp = h.get("content-security-policy", "")
    for part in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]:
        assert part in csp, csp
    assert "unsafe" not in csp, csp
    assert h.get("x-content-type-options") == "nosniff", h
    assert h.get("referrer-policy") == "no-referrer", h
    assert ctx.cookies() == [], ctx.cookies()
    assert page.locator('form [name]').evaluate_all("els => els.map(e => e.name)") == ["token"]
    page.fill('textarea[name="token"]', "not-a-token")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("p.error", timeout=5000)
    assert ctx.cookies() == [], "a failed login sets no cookie"
    ok("no cookie before login; CSP, nosniff and no-referrer on the page")

    page.fill('textarea[name="token"]', cfg["admin_token"][:40] + "…")
    shot(page, "login")
    login(page, cfg["admin_token"])
    cookies = ctx.cookies()
    assert len(cookies) == 1, cookies
    c = cookies[0]
    assert c["httpOnly"] is True and c["sameSite"] == "Strict" and c["path"] == "/", c
    assert cfg["admin_token"] not in c["value"] and len(c["value"]) == 64, "the cookie is a session id, not the token"
    assert page.evaluate("document.cookie") == "", "scripts cannot read the session cookie"
    ok("login sets one HttpOnly, SameSite=Strict session cookie that is not the token")

    # The session cookie alone does not make a change: the CSRF token must come too.
    r = ctx.request.post(C + "/api/revocations", data={"id": "0" * 32, "family": True})
    assert r.status == 403 and r.json()["error"]["code"] == "csrf", (r.status, r.text())
    r = ctx.request.post(C + "/logout", form={"csrf": "forged"})
    assert r.status == 403, r.status
    r = ctx.request.get(C + "/api/whoami")
    assert r.status == 200 and r.json()["operator"] == "root", r.text()
    ok("a POST without the CSRF token is refused (403)")

    # Live: a denial shows up within 2 s; a click opens the whole record.
    page.wait_for_selector("#status:has-text('Live.')", timeout=5000)
    status, _ = call(cfg["denied_token"], "GET", "/admin/console-probe")
    assert status == 403, status
    page.wait_for_selector("#events tr.decision-deny:has-text('/admin/console-probe')", timeout=2000)
    shot(page, "live")
    page.click("#events tr:has-text('/admin/console-probe')")
    page.wait_for_selector("#record-json:has-text('\"decision\": \"deny\"')", timeout=2000)
    shot(page, "live-record")
    page.click("#close")
    ok("a denial appears in Live within 2 s, and a click shows the record")

    # Markup in a request path is shown as text and never runs. The proxy's HTTP parser
    # refuses a raw '<' in a path or query (400, before anything is logged), so a real
    # request carries it percent-encoded, shown exactly as sent...
    for path in ["/<img/src=x/onerror=window.__pwned=1>", "/v1/x?q=<script>window.__pwned=2</script>"]:
        assert call(cfg["denied_token"], "GET", path)[0] == 400, path
    encoded = "/v1/%3Cscript%3Ewindow.__pwned=6%3C/script%3E"
    assert call(cfg["denied_token"], "GET", encoded)[0] == 200
    page.wait_for_selector("#events td:has-text('%3Cscript%3Ewindow.__pwned=6')", timeout=2000)
    # ...and every field an agent controls is rendered as text even when it is raw markup:
    # a page whose event stream carries such a record (the worst case, whatever the parser).
    evil = {
        "time": "2026-01-01T00:00:00Z", "decision": "deny", "status": 403, "method": "GET",
        "host": "<img src=x onerror=window.__pwned=7>.example",
        "path": "/<img src=x onerror=window.__pwned=1>",
        "query": "q=<script>window.__pwned=2</script>",
        "issuer": "<b onmouseover=window.__pwned=8>acme</b>",
        "labels": ["<svg onload=window.__pwned=9>"],
        "reason": "<script>window.__pwned=10</script>",
        "kid": "0123456789abcdef0123456789abcdef",
    }
    xp = ctx.new_page()
    xp.route("**/api/events*", lambda route: route.fulfill(
        status=200, headers={"content-type": "text/event-stream"},
        body="retry: 600000\ndata: " + json.dumps(evil) + "\n\n"))
    xp.goto(C + "/live")
    xp.wait_for_selector("#events td:has-text('/<img src=x onerror=window.__pwned=1>')", timeout=2000)
    for text in ["<script>window.__pwned=2</script>", "<img src=x onerror=window.__pwned=7>.example",
                 "<b onmouseover=window.__pwned=8>acme</b>", "<svg onload=window.__pwned=9>",
                 "<script>window.__pwned=10</script>"]:
        expect(xp.locator("#events tbody")).to_contain_text(text)
    xp.click("#events tbody tr")
    xp.wait_for_selector("#record-json:has-text('onerror=window.__pwned=1')", timeout=2000)
    assert xp.query_selector("#events img, #events script, #events svg, #events b, #record img") is None
    not_run(xp)
    shot(xp, "live-markup")
    xp.close()
    not_run(page)
    ok("markup in a path, host, labels, query and reason is text in Live and in the record, and does not run")

    # A burst (5,000 events at once, five seconds' worth at 1,000 a second) keeps the page
    # answering: one DOM update per frame, at most 500 rows kept.
    burst = "retry: 600000\n" + "".join(
        "data: " + json.dumps(dict(evil, path="/v1/burst/%d" % i, host="api.example.test")) + "\n\n"
        for i in range(5000))
    bp = ctx.new_page()
    bp.route("**/api/events*", lambda route: route.fulfill(
        status=200, headers={"content-type": "text/event-stream"}, body=burst))
    bp.goto(C + "/live")
    bp.wait_for_selector("#events td:has-text('/v1/burst/4999')", timeout=5000)
    t0 = time.monotonic()
    rows = bp.evaluate("document.querySelectorAll('#events tbody tr').length")
    assert rows == 500, rows
    assert time.monotonic() - t0 < 1.0, "the page is slow to answer after a burst"
    expect(bp.locator("#status")).to_contain_text("5000 events")
    bp.close()
    ok("a burst of 5,000 events leaves 500 rows and a page that answers")

    # Approvals: a held request, its body shown as text; approve it and the agent's call completes.
    held = {}

    def agent():
        held["r"] = call(cfg["approval_token"], "POST", "/v1/refunds", body=MARKUP_BODY, timeout=60)

    t = threading.Thread(target=agent)
    t.start()
    page.get_by_role("link", name="Approvals").click()
    approve = page.get_by_role("button", name="Approve")
    approve.wait_for(timeout=10000)
    body = page.locator("article.approval pre.body")
    expect(body).to_contain_text("<script>window.__pwned=3</script>")
    expect(body).to_contain_text('<img src=x onerror=\\"window.__pwned=4\\">')
    assert page.query_selector("article.approval img, article.approval script") is None
    not_run(page)
    expect(page.get_by_role("button", name="Deny")).to_have_count(1)
    shot(page, "approvals")
    ok("a held request is listed with its body as text, with Approve and Deny")

    # A read-only operator sees the same, without a button that would fail.
    ro = browser.new_context(viewport={"width": 1280, "height": 760})
    rp = ro.new_page()
    login(rp, cfg["read_token"])
    rp.get_by_role("link", name="Approvals").click()
    rp.wait_for_selector("article.approval", timeout=5000)
    for name in ["Approve", "Deny"]:
        assert rp.get_by_role("button", name=name).count() == 0, name
    shot(rp, "approvals-read-only")
    csrf = rp.locator('meta[name="csrf"]').get_attribute("content")
    aid = rp.locator("article.approval").first.get_attribute("data-id")
    r = ro.request.post(C + "/api/approvals/" + aid + "/approve", data={}, headers={"x-csrf-token": csrf})
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden", (r.status, r.text())
    rp.get_by_role("link", name="Tokens").click()
    rp.wait_for_selector("table.families", timeout=5000)
    assert rp.locator("button:has-text('Revoke')").count() == 0
    assert rp.locator("#revoke-branch").count() == 0
    ro.close()
    ok("a read-only operator sees no Approve, Deny or Revoke button, and the API refuses it (403)")

    approve.click()
    t.join(60)
    assert not t.is_alive(), "the agent's call is still held"
    assert held["r"][0] == 200, held["r"]
    page.wait_for_selector("table.decided tr:has-text('approved'):has-text('root')", timeout=5000)
    ok("Approve released the held call (200); the decision shows who")

    # Deny, with a reason the agent is told.
    def agent2():
        held["d"] = call(cfg["approval_token"], "POST", "/v1/refunds", body='{"refund": 99999}', timeout=60)

    t2 = threading.Thread(target=agent2)
    t2.start()
    page.wait_for_selector("article.approval pre.body:has-text('99999')", timeout=10000)
    page.fill("form.deny input[name='reason']", "too large, ask finance")
    page.get_by_role("button", name="Deny").click()
    t2.join(60)
    assert not t2.is_alive(), "the denied call is still held"
    status, text = held["d"]
    assert status == 403 and "approval_denied" in text and "too large, ask finance" in text, held["d"]
    page.wait_for_selector("table.decided tr:has-text('denied'):has-text('too large, ask finance')", timeout=5000)
    ok("Deny refused the held call (403 approval_denied) with the reason")

    # Tokens: revoke a branch, the next call with it is refused; undo lets it through again.
    assert call(cfg["branch_token"], "GET", "/v1/branch")[0] == 200
    page.get_by_role("link", name="Tokens").click()
    page.wait_for_selector("table.families", timeout=5000)
    page.fill("#branch", cfg["branch_token"])
    page.get_by_role("button", name="Revoke branch").click()
    page.wait_for_selector("#revoke-result:has-text('revoked')", timeout=5000)
    status, text = call(cfg["branch_token"], "GET", "/v1/branch")
    assert status in (401, 403) and "revoked" in text, (status, text)
    assert call(cfg["denied_token"], "GET", "/v1/sibling")[0] == 200, "the rest of the family works"
    shot(page, "tokens")
    page.get_by_role("button", name="Undo").click()
    page.wait_for_selector("#revoke-result:has-text('undone')", timeout=5000)
    assert call(cfg["branch_token"], "GET", "/v1/branch")[0] == 200
    ok("Revoke branch refuses its next call; Undo lifts it")

    page.reload()
    page.get_by_role("button", name="Revoke family").first.click()
    page.wait_for_selector("#revoke-result:has-text('revoked')", timeout=5000)
    status, text = call(cfg["denied_token"], "GET", "/v1/family")
    assert status in (401, 403) and "revoked" in text, (status, text)
    page.reload()
    page.wait_for_selector("table.families .badge:has-text('revoked')", timeout=5000)
    page.get_by_role("button", name="Undo").click()
    page.wait_for_selector("button:has-text('Revoke family')", timeout=5000)
    assert call(cfg["denied_token"], "GET", "/v1/family")[0] == 200
    ok("Revoke family refuses every token of it; its Undo lifts it")

    page.get_by_role("link", name="Issuers").click()
    page.wait_for_selector("table.issuers", timeout=5000)
    page.fill("#add-issuer input[name='key']", cfg["other_issuer"])
    page.fill("#add-issuer input[name='name']", "<i>partner</i>")
    page.get_by_role("button", name="Add issuer").click()
    row = page.locator("table.issuers tr", has_text=cfg["other_issuer"])
    expect(row).to_contain_text("<i>partner</i>", timeout=5000)
    shot(page, "issuers")
    row.get_by_role("button", name="Remove").click()
    expect(row).to_have_count(0, timeout=5000)
    ok("an admin adds an issuer (its name shown as text) and removes it")
    page.get_by_role("link", name="Health").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.card .rate')].some(e => /^-?[0-9.]+$/.test(e.textContent))",
        timeout=10000)
    shot(page, "health")
    ok("Health shows rates")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login", timeout=5000)
    assert ctx.cookies() == [], ctx.cookies()
    page.goto(C + "/live")
    assert page.url.endswith("/login")
    not_run(page)
    assert not csp_errors, csp_errors
    ok("logout ends the session; no CSP violation on any page")
    browser.close()
