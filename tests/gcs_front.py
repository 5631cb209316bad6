"""A front that speaks the Google Cloud Storage XML API to object_store's GCS client and keeps
the objects in moto's S3 server behind it.

No emulator in the package registries speaks the XML API that object_store's GCS client uses
(fake-gcs-server rejects XML uploads; gcp-storage-emulator has no XML list, HEAD or DELETE).
The XML API is nearly S3's protocol, so this front translates the few places where they differ
and forwards everything else as it came:

- authentication: object_store signs a JWT with the service account's RSA key (RS256) and sends
  it as a bearer token; the front verifies the signature against the account it issued, its
  issuer and its expiry, and answers 401 otherwise;
- conditional create: `x-goog-if-generation-match: 0` becomes S3's `If-None-Match: *`, and
  412 still means "the object exists"; conditional requests are serialised here, so a create
  is atomic whatever the server behind does;
- copy: `x-goog-copy-source: bucket/key` becomes `x-amz-copy-source: /bucket/key`; a copy with
  `x-goog-if-generation-match: 0` checks and copies under the same lock;
- metadata headers `x-goog-meta-*` become `x-amz-meta-*`;
- the front signs what it forwards with the S3 server's own credentials (AWS SigV4).

Listing (`list-type=2`), ranges, multipart uploads (`uploads`, `partNumber`, `uploadId`) and
errors are the same on both sides and pass through. Object generations are not emulated:
`?generation=` reads and a generation match other than 0 are refused with 501, so nothing that
relies on them passes by accident.

Usage: gcs_front.py --port P --backend http://127.0.0.1:M --keys DIR
Writes DIR/service-account.json (the account the front accepts) and DIR/unknown-account.json
(a well-formed key the front has never issued), then serves on 127.0.0.1:P.
"""

import argparse
import base64
import http.client
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# The S3 server's own credentials (moto accepts any); the front signs what it forwards.
BACKEND_CREDENTIALS = Credentials("test", "test")
ACCOUNT = "lakeshell-test@lakeshell-test.iam.gserviceaccount.com"
CONDITIONAL = threading.Lock()
# Hop-by-hop and rewritten headers that are not forwarded as they came.
DROPPED = {"host", "authorization", "connection", "transfer-encoding", "keep-alive",
           "x-goog-if-generation-match", "x-goog-copy-source", "x-goog-storage-class"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def service_account(key, key_id: str) -> dict:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "lakeshell-test",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": ACCOUNT,
    }


class Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    backend: urllib.parse.SplitResult
    public_key = None

    def log_message(self, *args):
        pass

    # -- authentication ------------------------------------------------------------------
    def authenticated(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        try:
            head, claims, sig = auth[len("Bearer "):].split(".")
            self.public_key.verify(
                unb64url(sig),
                f"{head}.{claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            c = json.loads(unb64url(claims))
            return c.get("iss") == ACCOUNT and c.get("exp", 0) > time.time()
        except Exception:
            return False

    def reply(self, status: int, code: str, message: str, headers=()):
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>"
            f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- forwarding ----------------------------------------------------------------------
    def body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def forward(self, method, path, query, headers, body):
        conn = http.client.HTTPConnection(self.backend.hostname, self.backend.port, timeout=60)
        target = path + ("?" + query if query else "")
        signed = AWSRequest(method=method, url=f"{self.backend.geturl()}{target}", data=body,
                            headers=headers)
        S3SigV4Auth(BACKEND_CREDENTIALS, "s3", "us-east-1").add_auth(signed)
        headers = dict(signed.headers.items())
        conn.request(method, target, body=body if body or method in ("PUT", "POST") else None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def send_backend(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            lk = k.lower()
            if lk in ("connection", "transfer-encoding", "content-length", "server", "date"):
                continue
            if lk.startswith("x-amz-meta-"):
                k = "x-goog-meta-" + k[len("x-amz-meta-"):]
            self.send_header(k, v)
        if self.command == "HEAD":
            length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
            self.send_header("Content-Length", length)
            self.end_headers()
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def handle_any(self):
        body = self.body()
        if not self.authenticated():
            return self.reply(401, "AuthenticationRequired", "Invalid Credentials")
        url = urllib.parse.urlsplit(self.path)
        query = url.query
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if "generation" in params:
            return self.reply(501, "NotImplemented", "object generations are not emulated")
        # object_store percent-encodes every byte of the key, '/' included; S3 wants '/' plain.
        parts = url.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        path = "/" + urllib.parse.quote(bucket)
        if len(parts) > 1:
            key = urllib.parse.unquote(parts[1])
            path += "/" + urllib.parse.quote(key, safe="/")
        headers = {}
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in DROPPED:
                continue
            if lk.startswith("x-goog-meta-"):
                k = "x-amz-meta-" + k[len("x-goog-meta-"):]
            headers[k] = v
        headers["Content-Length"] = str(len(body))
        match = self.headers.get("x-goog-if-generation-match")
        if match is not None and match != "0":
            return self.reply(501, "NotImplemented", "object generations are not emulated")
        source = self.headers.get("x-goog-copy-source")
        if source is not None:
            src_bucket, _, src_key = urllib.parse.unquote(source).partition("/")
            headers["x-amz-copy-source"] = "/" + urllib.parse.quote(f"{src_bucket}/{src_key}")
            if match == "0":
                with CONDITIONAL:
                    status, _, _ = self.forward("HEAD", path, "", {}, b"")
                    if status == 200:
                        return self.reply(412, "PreconditionFailed",
                                          "At least one of the pre-conditions you specified did not hold.")
                    return self.send_backend(*self.forward(self.command, path, query, headers, body))
            return self.send_backend(*self.forward(self.command, path, query, headers, body))
        if match == "0":
            headers["If-None-Match"] = "*"
            with CONDITIONAL:
                return self.send_backend(*self.forward(self.command, path, query, headers, body))
        return self.send_backend(*self.forward(self.command, path, query, headers, body))

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--keys", required=True)
    a = ap.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.makedirs(a.keys, exist_ok=True)
    for name, k, kid in (("unknown-account.json", stranger, "unknown"),
                         ("service-account.json", key, "front")):
        with open(os.path.join(a.keys, name + ".tmp"), "w") as f:
            json.dump(service_account(k, kid), f)
        os.replace(os.path.join(a.keys, name + ".tmp"), os.path.join(a.keys, name))
    Front.backend = urllib.parse.urlsplit(a.backend)
    Front.public_key = key.public_key()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Front)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
