"""A Google-client-library program, run through `macaroon exec`: it holds only the
macaroon, used as an OAuth2 bearer token (google-auth's Credentials with a fixed token,
requests through AuthorizedSession). `seq N` sends N requests one after another, `par N`
sends N at once. Prints every response (status, headers, body) as JSON."""
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import google.oauth2.credentials
import requests
from google.auth.transport.requests import AuthorizedSession

URL = "https://api.example.test/v1/users/me/profile"

mode, n = sys.argv[1], int(sys.argv[2])
creds = google.oauth2.credentials.Credentials(token=os.environ["MACAROON_TOKEN"])
session = AuthorizedSession(creds)
session.mount("https://", requests.adapters.HTTPAdapter(pool_connections=n, pool_maxsize=n))


def one(_=None):
    r = session.get(URL, timeout=60)
    return {"status": r.status_code, "headers": dict(r.headers), "body": r.text}


if mode == "seq":
    out = [one() for _ in range(n)]
else:
    start = threading.Barrier(n)

    def together(i):
        start.wait()
        return one(i)

    with ThreadPoolExecutor(n) as pool:
        out = list(pool.map(together, range(n)))
print(json.dumps(out))
