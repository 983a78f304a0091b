#!/usr/bin/env python3
"""Verifies macaroon-proxy tokens with other implementations: PyNaCl opens the sealed
identifier with the proxy's private key and checks the issuer's Ed25519 signature over the
canonical payload, pymacaroons verifies the HMAC chain, the discharges and every
first-party caveat (with a small evaluator of our caveat language).

Usage: python3 verify_ours.py VECTORS.json   (pip install pymacaroons pynacl)
Exits 0 when every vector behaves as its "expect" says; prints one line per check.
"""
import base64
import datetime
import json
import sys

from nacl.public import PrivateKey, SealedBox
from nacl.signing import VerifyKey
from pymacaroons import Macaroon, Verifier
from pymacaroons.serializers import JsonSerializer


def load(text):
    text = text.strip()
    if text.startswith("{"):
        return Macaroon.deserialize(text, serializer=JsonSerializer())
    return Macaroon.deserialize(text)


def raw_identifier(m):
    ident = m.identifier_bytes if hasattr(m, "identifier_bytes") else m.identifier
    return ident if isinstance(ident, bytes) else ident.encode("latin-1")


def open_sealed(identifier, private_key_b64):
    assert identifier[:3] == b"mk1", "not a sealed identifier"
    key = PrivateKey(base64.b64decode(private_key_b64))
    payload = SealedBox(key).decrypt(identifier[11:])
    return json.loads(payload)


SIGNING_CONTEXT = b"macaroon-issuer-v1\n"


def check_issuer(payload, trusted):
    """The issuer signed every field but `sig`, as canonical JSON, after the context."""
    assert payload.get("iss") in trusted, "payload signed by an untrusted issuer"
    unsigned = {k: v for k, v in payload.items() if k != "sig"}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    VerifyKey(base64.b64decode(payload["iss"])).verify(SIGNING_CONTEXT + canonical, base64.b64decode(payload["sig"]))


def under(path, prefix):
    prefix = prefix.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def glob(path, pattern):
    segs, pat = path[1:].split("/"), pattern[1:].split("/")

    def m(p, s):
        if not p:
            return not s
        if p[0] == "**":
            return any(m(p[1:], s[k:]) for k in range(len(s) + 1))
        return bool(s) and (p[0] == s[0] or (p[0] == "*" and s[0] != "")) and m(p[1:], s[1:])

    return m(pat, segs)


def satisfier(req):
    def check(caveat):
        field, op, *values = caveat.split(" ")
        if field == "time":
            t = datetime.datetime.strptime(values[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
            return req["time"] < t if op == "<" else req["time"] > t
        if field == "method":
            return req["method"] in values
        if field == "host":
            return req["host"] in values
        if field == "path":
            if op == "=":
                return req["path"] == values[0]
            if op == "prefix":
                return any(under(req["path"], v) for v in values)
            if op == "glob":
                return any(glob(req["path"], v) for v in values)
        return False  # unknown caveats deny, as in the proxy

    return check


def main():
    doc = json.load(open(sys.argv[1]))
    failures = 0
    for v in doc["vectors"]:
        m = load(v["token"])
        payload = open_sealed(raw_identifier(m), doc["proxy_private_key"])
        assert payload["secret"] == doc["secret"], "sealed secret differs"
        assert payload["hosts"] == doc["hosts"], "sealed hosts differ"
        check_issuer(payload, [doc["issuer_public_key"]])  # raises BadSignatureError if altered
        root = base64.b64decode(payload["root"])
        discharges = [load(d) for d in v.get("discharges", [])]
        for case in v["requests"]:
            req = dict(case)
            req["time"] = datetime.datetime.now(datetime.timezone.utc)
            verifier = Verifier()
            verifier.satisfy_general(satisfier(req))
            try:
                ok = verifier.verify(m, root, discharge_macaroons=discharges)
            except Exception:  # pymacaroons raises on any failure
                ok = False
            want = case["expect"] == "allow"
            status = "ok" if ok == want else "FAIL"
            failures += status == "FAIL"
            print(f"{status}: {v['name']}: {case['method']} {case['path']} -> {'allow' if ok else 'deny'}")
    print(f"{failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
