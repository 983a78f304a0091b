#!/usr/bin/env python3
"""A local TLS upstream for trying macaroon-proxy: it echoes what it received.

Usage: python3 echo_upstream.py [PORT] [DIR]

  PORT  port on 127.0.0.1 to listen on (default 8443)
  DIR   where to write the certificates (default: a new temporary directory)

On start it creates, with the openssl CLI, a throwaway CA (DIR/ca.pem) and a
certificate for api.example.test signed by it, prints the CA path (give it to
`macaroon-proxy run --upstream-ca`), and answers every request with JSON holding
the method, path, query, request headers and body length. It also writes a line per
request to stderr with the Authorization header it received: the response it sends back
passes through the proxy, which replaces the real key in it with stars, so this line is
where you see the key the proxy injected. Standard library only.
"""
import json, os, ssl, subprocess, sys, tempfile, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "api.example.test"


def make_certs(d):
    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    j = lambda name: os.path.join(d, name)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"]
    ossl("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.pem"),
         "-subj", "/CN=echo_upstream test CA")
    ossl("req", *ec, "-keyout", j("key.pem"), "-out", j("leaf.csr"), "-subj", "/CN=" + HOST)
    with open(j("leaf.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{HOST}\nbasicConstraints=critical,CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", j("leaf.csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"),
         "-CAcreateserial", "-days", "30", "-extfile", j("leaf.ext"), "-out", j("cert.pem"))
    return j("ca.pem"), j("cert.pem"), j("key.pem")


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the proxy pools its upstream connections

    def echo(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        url = urllib.parse.urlsplit(self.path)
        auth = self.headers.get("Authorization", "(none)")
        print(f"received {self.command} {self.path} authorization: {auth}", file=sys.stderr, flush=True)
        body = json.dumps({"method": self.command, "path": url.path, "query": url.query,
                           "headers": dict(self.headers.items()), "body_bytes": n},
                          indent=2).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        pass  # one line per request, from echo(), is enough

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = echo


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8443
    d = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="echo-upstream-")
    os.makedirs(d, exist_ok=True)
    ca, cert, key = make_certs(d)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", port), Echo)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"echo upstream: https://127.0.0.1:{port} as {HOST}; CA: {ca}", flush=True)
    server.serve_forever()
