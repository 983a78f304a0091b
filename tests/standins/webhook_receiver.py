"""A webhook receiver that checks what an approval notice must be: signed with the shared
secret (Macaroon-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "t.body"))), recent, JSON
with text, approval, approve_url and console_url. The first POST is answered 503, so the
sender's retry is exercised; later ones 200. Each accepted notice is printed as one JSON
line on stdout; a bad one is printed as {"bad": why}.

Usage: python3 webhook_receiver.py SECRET_FILE   (prints "port N" first)
"""
import hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

secret = open(sys.argv[1]).read().splitlines()[0].encode()
state = {"posts": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state["posts"] += 1
        if state["posts"] == 1:
            self.send_response(503)
            self.end_headers()
            return
        sig = self.headers.get("Macaroon-Signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        want = hmac.new(secret, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, parts.get("v1", "")):
            print(json.dumps({"bad": "signature"}), flush=True)
        elif abs(time.time() - int(parts["t"])) > 300:
            print(json.dumps({"bad": "stale"}), flush=True)
        else:
            notice = json.loads(body)
            notice["posts"] = state["posts"]
            print(json.dumps(notice), flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
