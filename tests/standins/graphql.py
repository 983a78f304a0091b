"""A GraphQL API stand-in for the end-to-end tests, over TLS: every POST (JSON body) or GET
(?query=) is answered with a fixed `{"data": ...}` result, and its query text is printed as
`QUERY <text on one line>`, so a test can tell which documents reached it.

Usage: graphql.py --cert C --key K. Prints "PORT n" once listening.
"""
import argparse
import http.server
import json
import ssl
from urllib.parse import parse_qs, urlsplit


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, query):
        print("QUERY " + " ".join(str(query).split()), flush=True)
        data = json.dumps({"data": {"viewer": {"login": "octocat"}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            query = json.loads(body).get("query")
        except ValueError:
            query = None
        self.answer(query)

    def do_GET(self):
        self.answer(parse_qs(urlsplit(self.path).query).get("query", [None])[0])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    args = p.parse_args()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print(f"PORT {httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
