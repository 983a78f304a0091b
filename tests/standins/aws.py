"""An AWS stand-in for the end-to-end tests: S3 (ListObjectsV2, PutObject) and STS
(GetCallerIdentity) over TLS, checking every request's SigV4 signature with botocore's
own signer (SigV4Auth / S3SigV4Auth) and the real key, as AWS would. A request without a
signature, signed with another key, or whose signed parts (headers, path, query, body
hash) changed on the way is refused with 403 SignatureDoesNotMatch, so a test that passes
proves what the proxy signed.

Usage: aws.py --cert C --key K --akid ID --secret S [--session-token T]
Prints "PORT n" once listening, then one line per request: "VERIFIED ..." or "REJECTED ...".
"""
import argparse
import hashlib
import http.server
import re
import ssl
import sys
import threading
from urllib.parse import parse_qs, urlsplit

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)

ARGS = None
OBJECTS = {}
LOCK = threading.Lock()


def say(line):
    print(line, flush=True)


def read_chunked(rfile):
    """The body of a request sent with Transfer-Encoding: chunked."""
    out = b""
    while True:
        size = int(rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while rfile.readline().strip():
                pass
            return out
        out += rfile.read(size)
        rfile.readline()


def decode_aws_chunked(body):
    """The payload of an aws-chunked body (unsigned chunks and a checksum trailer)."""
    out, rest = b"", body
    while True:
        line, rest = rest.split(b"\r\n", 1)
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return out
        out, rest = out + rest[:size], rest[size + 2 :]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return read_chunked(self.rfile)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, xml, extra=()):
        data = xml.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, why):
        say(f"REJECTED {self.command} {self.path}: {why}")
        self.reply(
            403,
            f"<Error><Code>SignatureDoesNotMatch</Code><Message>{why}</Message></Error>",
        )

    def verify(self, body):
        """None if the signature is AWS's with the real key, else why not."""
        m = AUTH.match(self.headers.get("Authorization", ""))
        if not m:
            return "no AWS4-HMAC-SHA256 Authorization header"
        akid, day, region, service, signed, signature = m.groups()
        if akid != ARGS.akid:
            return f"signed with access key {akid!r}, not the real one"
        if ARGS.session_token and self.headers.get("X-Amz-Security-Token") != ARGS.session_token:
            return "the real session token is not in X-Amz-Security-Token"
        host = self.headers.get("Host")
        request = AWSRequest(
            method=self.command,
            url=f"https://{host}{self.path}",
            headers={h: self.headers.get(h) for h in signed.split(";")},
            data=body,
        )
        request.context["timestamp"] = self.headers.get("X-Amz-Date", "")
        if not request.context["timestamp"].startswith(day):
            return "the date does not match the credential scope"
        creds = Credentials(ARGS.akid, ARGS.secret, ARGS.session_token)
        auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region)
        # What AWS checks for an unsigned payload: the declared value itself is signed.
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        if expected != signature:
            return "the signature does not verify with the real key"
        declared = self.headers.get("X-Amz-Content-SHA256")
        if declared and not declared.endswith("PAYLOAD") and not declared.endswith("TRAILER"):
            if declared != hashlib.sha256(body).hexdigest():
                return "the body does not match its signed hash"
        return None

    def handle_one(self):
        body = self.body()
        why = self.verify(body)
        if why:
            return self.refuse(why)
        say(f"VERIFIED {self.command} {self.headers.get('Host')} {self.path}")
        host = self.headers.get("Host", "")
        if host.startswith("sts."):
            return self.sts(body)
        return self.s3(host.split(".s3.")[0], body)

    def sts(self, body):
        form = parse_qs(body.decode())
        if form.get("Action") != ["GetCallerIdentity"]:
            return self.reply(400, "<Error><Code>InvalidAction</Code></Error>")
        # An upstream that echoes credentials, as debug headers and error bodies do.
        echo = [("X-Echo-Session-Token", ARGS.session_token or ""), ("X-Echo-Secret", ARGS.secret)]
        self.reply(
            200,
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/macaroon-e2e</Arn>"
            f"<UserId>{ARGS.akid}</UserId><Account>123456789012</Account>"
            "</GetCallerIdentityResult><ResponseMetadata><RequestId>e2e</RequestId>"
            "</ResponseMetadata></GetCallerIdentityResponse>",
            echo,
        )

    def s3(self, bucket, body):
        url = urlsplit(self.path)
        if self.command == "PUT":
            if self.headers.get("Content-Encoding", "") == "aws-chunked":
                body = decode_aws_chunked(body)
            with LOCK:
                OBJECTS[url.path.lstrip("/")] = body
            etag = hashlib.md5(body).hexdigest()
            return self.reply(200, "", [("ETag", f'"{etag}"')])
        with LOCK:
            items = sorted(OBJECTS.items())
        contents = "".join(
            f"<Contents><Key>{k}</Key><Size>{len(v)}</Size></Contents>" for k, v in items
        )
        self.reply(
            200,
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{bucket}</Name><KeyCount>{len(items)}</KeyCount>"
            f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>",
        )

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_one


def main():
    global ARGS
    p = argparse.ArgumentParser()
    for flag in ("--cert", "--key", "--akid", "--secret"):
        p.add_argument(flag, required=True)
    p.add_argument("--session-token")
    ARGS = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    say(f"PORT {server.server_address[1]}")
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
