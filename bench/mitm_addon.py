"""mitmproxy addon: the "what a Python user would build" baseline of bench/proxy.sh.

    mitmdump --mode reverse:https://127.0.0.1:PORT/ -s bench/mitm_addon.py

Each request's `Authorization: Bearer TOKEN` is deserialized with pymacaroons and verified
with a pymacaroons Verifier against a root key; the first-party caveats are checked by
`satisfy_general` callbacks against the request (time, method, path, host). A verified
request goes upstream with `Authorization: Bearer SECRET`; anything else gets a 403 (a 401
if there is no bearer token) and never reaches the upstream.

Environment: MITM_ROOT_KEY (the root key), MITM_SECRET (the real API key), MITM_API_HOST
(the upstream's name: the Host header, the TLS server name, and the host that `host`
caveats are checked against; default api.example.test).

What this baseline leaves out, compared with macaroon-proxy: our tokens carry the root key
and the real key sealed in the identifier; this addon is simply given both (no sealed box to
open per request), so the bench mints it a comparable token with pymacaroons (see `mint`
below). The caveat checks are a reasonable approximation of the caveat language
(docs/caveat-language.md), not a copy of it: paths are compared as mitmproxy's
percent-decoded, non-empty path components (so a trailing slash or a `//` is ignored);
times are RFC 3339; an unknown caveat is not satisfied.

    python3 bench/mitm_addon.py mint TOKEN

prints a pymacaroons (V2) token with the same location, an identifier of the same length
(random text instead of a sealed box) and the same first-party caveats as TOKEN, signed
with MITM_ROOT_KEY: a token of the same size and work for the verifier.
"""

import datetime
import os
import secrets
import sys
import urllib.parse

from pymacaroons import MACAROON_V2, Macaroon, Verifier

ROOT_KEY = os.environ.get("MITM_ROOT_KEY", "")
SECRET = os.environ.get("MITM_SECRET", "")
API_HOST = os.environ.get("MITM_API_HOST", "api.example.test")


def _segments(path):
    return tuple(urllib.parse.unquote(s) for s in path.split("?", 1)[0].split("/") if s)


def _glob(pattern, segs):
    """Segment-wise glob: `*` is one segment, `**` any number of segments (DP, no backtracking)."""
    reach = [True] + [False] * len(segs)  # reach[j]: the pattern so far matches segs[:j]
    for p in pattern:
        if p == "**":
            for j in range(1, len(segs) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [reach[j] and (p == "*" or p == segs[j]) for j in range(len(segs))]
    return reach[-1]


def _time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def satisfied(predicate, method, segs, host, now):
    """True if the first-party caveat `predicate` holds for this request."""
    words = predicate.split()
    if len(words) < 3:
        return False
    subject, op, args = words[0], words[1], words[2:]
    try:
        if subject == "time" and len(args) == 1:
            if op == "<":
                return now < _time(args[0])
            if op == ">":
                return now > _time(args[0])
        elif subject == "method":
            if op == "=" and len(args) == 1:
                return method == args[0].upper()
            if op == "in":
                return method in {a.upper() for a in args}
        elif subject == "path":
            if op == "=" and len(args) == 1:
                return segs == _segments(args[0])
            if op == "prefix":
                return any(segs[: len(p)] == p for p in map(_segments, args))
            if op == "glob":
                return any(_glob(_segments(g), segs) for g in args)
        elif subject == "host":
            if op == "=" and len(args) == 1:
                return host == args[0].lower()
            if op == "in":
                return host in {a.lower() for a in args}
    except ValueError:  # a malformed time
        return False
    return False


def _deny(flow, status, why):
    from mitmproxy import http

    flow.response = http.Response.make(status, f"{why}\n".encode(), {"content-type": "text/plain"})


def request(flow):
    scheme, _, token = flow.request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _deny(flow, 401, "no bearer token")
    method = flow.request.method.upper()
    segs = _segments(flow.request.path)
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        macaroon = Macaroon.deserialize(token.strip())
        verifier = Verifier()
        verifier.satisfy_general(lambda p: satisfied(p, method, segs, API_HOST, now))
        verifier.verify(macaroon, ROOT_KEY)
    except Exception as e:  # bad encoding, bad signature, unmet caveat
        return _deny(flow, 403, f"forbidden: {type(e).__name__}")
    flow.request.headers["authorization"] = f"Bearer {SECRET}"
    flow.request.host_header = API_HOST


def server_connect(data):
    # The reverse target is an address (127.0.0.1:PORT); present and verify the API's name.
    data.server.sni = API_HOST


def mint(token):
    ours = Macaroon.deserialize(token)
    m = Macaroon(
        location=ours.location or "",
        identifier=secrets.token_urlsafe(len(ours.identifier_bytes))[: len(ours.identifier_bytes)],
        key=ROOT_KEY,
        version=MACAROON_V2,
    )
    for c in ours.first_party_caveats():
        m.add_first_party_caveat(c.caveat_id_bytes)
    return m.serialize()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "mint" or not ROOT_KEY:
        sys.exit("usage: MITM_ROOT_KEY=KEY python3 mitm_addon.py mint TOKEN")
    print(mint(sys.argv[2]))
