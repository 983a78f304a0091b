"""An OAuth2 provider stand-in for the end-to-end tests, over TLS: a token endpoint
(refresh_token and client_credentials grants) and a resource server that accepts only the
access tokens it issued. Both echo secrets back the way real ones can (an error that quotes
the refresh token, a debug endpoint that shows the bearer token), so the tests also prove
the proxy never lets them through.

Usage: oauth.py --cert C --key K --client-id ID --client-secret S --refresh-token R
Routes by path: POST /token, GET /v1/... (resource), GET /_control?k=v (settings:
expires_in, rotate, delay, fail, revoke; hold=1 makes exchanges wait until release=1),
GET /_stats (what it saw and issued).
Prints "PORT n" once listening.
"""
import argparse
import http.server
import json
import secrets
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

ARGS = None
LOCK = threading.Lock()
RELEASED = threading.Event()
RELEASED.set()
STATE = {
    "settings": {"expires_in": 3600, "rotate": False, "delay": 0.0, "fail": None},
    "valid_refresh": set(),
    "valid_access": set(),
    "stats": {
        "exchanges": 0,
        "grants": [],
        "refresh_tokens_used": [],
        "issued_access": [],
        "issued_refresh": [],
        "resource_ok": 0,
        "resource_401": 0,
    },
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj, extra=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if urlsplit(self.path).path != "/token":
            return self.send_json(404, {"error": "not_found"})
        form = {k: v[0] for k, v in parse_qs(body).items()}
        with LOCK:
            STATE["stats"]["exchanges"] += 1
            STATE["stats"]["grants"].append(form.get("grant_type"))
            settings = dict(STATE["settings"])
        time.sleep(settings["delay"])
        RELEASED.wait(60)
        rt = form.get("refresh_token")
        if settings["fail"]:
            # Real providers' descriptions can quote what they were sent.
            return self.send_json(
                400, {"error": settings["fail"], "error_description": f"refresh token {rt} is not valid"}
            )
        if form.get("client_id") != ARGS.client_id or form.get("client_secret") != ARGS.client_secret:
            return self.send_json(401, {"error": "invalid_client"})
        with LOCK:
            if form.get("grant_type") == "refresh_token":
                STATE["stats"]["refresh_tokens_used"].append(rt)
                if rt not in STATE["valid_refresh"]:
                    return self.send_json(400, {"error": "invalid_grant"})
            elif form.get("grant_type") != "client_credentials":
                return self.send_json(400, {"error": "unsupported_grant_type"})
            access = "ya29.e2e-" + secrets.token_urlsafe(24)
            STATE["valid_access"].add(access)
            STATE["stats"]["issued_access"].append(access)
            out = {"access_token": access, "token_type": "Bearer", "expires_in": settings["expires_in"]}
            if rt and settings["rotate"]:
                new = "1//e2e-rotated-" + secrets.token_urlsafe(24)
                STATE["valid_refresh"].discard(rt)
                STATE["valid_refresh"].add(new)
                STATE["stats"]["issued_refresh"].append(new)
                out["refresh_token"] = new
        self.send_json(200, out)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/_stats":
            with LOCK:
                return self.send_json(200, STATE["stats"])
        if url.path == "/_control":
            return self.control(parse_qs(url.query))
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with LOCK:
            ok = token in STATE["valid_access"]
            STATE["stats"]["resource_ok" if ok else "resource_401"] += 1
            refresh = sorted(STATE["valid_refresh"])
        if not ok:
            return self.send_json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        # A debug endpoint that shows what it was sent, and then some.
        self.send_json(
            200,
            {"path": url.path, "token_seen": token, "refresh_known": refresh, "client": ARGS.client_secret},
            [("X-Debug-Token", token)],
        )

    def control(self, q):
        with LOCK:
            s = STATE["settings"]
            if "expires_in" in q:
                s["expires_in"] = int(q["expires_in"][0])
            if "rotate" in q:
                s["rotate"] = q["rotate"][0] == "1"
            if "delay" in q:
                s["delay"] = float(q["delay"][0])
            if "fail" in q:
                s["fail"] = q["fail"][0] or None
            if "revoke" in q:
                STATE["valid_access"].clear()
            if "hold" in q:
                RELEASED.clear()
            if "release" in q:
                RELEASED.set()
            out = dict(s)
        self.send_json(200, out)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    for flag in ("--cert", "--key", "--client-id", "--client-secret", "--refresh-token"):
        p.add_argument(flag, required=True)
    ARGS = p.parse_args()
    STATE["valid_refresh"].add(ARGS.refresh_token)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
