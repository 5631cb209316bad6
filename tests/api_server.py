"""A small REST API on 127.0.0.1 for read_api's tests and the README's ingestion example.

Calls (id, started_at, duration_s, agent {id, name}) are served by every paginator, behind a
bearer token or an OAuth2 client-credentials token, with throttling (429 + Retry-After),
failures now and then (503), refusals (401) and malformed records.

Usage: api_server.py --port P [--ready FILE]   (writes FILE once it listens)

Routes (all GET unless said):
  /v2/calls?page=&per_page=          {"data": [...], "meta": {"pages": N}} and X-Pages: N   (bearer)
  /offset?offset=&limit=             [...]
  /cursor?cursor=                    {"data": [...], "meta": {"next": "..."}}
  /link?page=                        [...] with Link: <...?page=n+1>; rel="next"
  /next?page=                        {"data": [...], "links": {"next": "http://.../next?page=n+1"}}
  /flaky?page=                       the first request of each page: 503, then 429 (Retry-After: 1)
  /down                              always 503
  /forever?page=                     a next link every time
  /malformed                         records where duration_s is text
  POST /oauth/token                  client_credentials -> {"access_token": ...}
  /oauth/calls?page=                 as /v2/calls, behind the OAuth2 token
  /oauth/expiring?page=              the same, each token good for one page (then 401)
  /oauth/refuses                     401 to every token
  /drops?page=                       each page's first try loses its connection
  /stalls?page=                      each page's first try answers after 3 s
  /hits                              how many requests each route has had (JSON)
Bearer token: "calls-token"; OAuth2 client: id "calls-id", secret "calls-secret".
"""

import argparse
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "calls-token"
CLIENT_ID, CLIENT_SECRET = "calls-id", "calls-secret"
CALLS = [
    {
        "id": i,
        "started_at": f"2024-01-{1 + (i - 1) % 28:02d}T10:00:00Z",
        "duration_s": 30 * i,
        "agent": {"id": 100 + i % 3, "name": ["ann", "bo", "cy"][i % 3]},
    }
    for i in range(1, 26)
]
LOCK = threading.Lock()
HITS = {}
ISSUED = set()
USED = set()
SEEN_FLAKY = {}
SEEN_DROPS = {}
SEEN_STALLS = {}


def page_of(items, page, size):
    return items[(page - 1) * size: page * size]


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        with LOCK:
            HITS[url.path] = HITS.get(url.path, 0) + 1
        if url.path != "/oauth/token":
            return self.send(404, {"error": "not found"})
        ok = (form.get("grant_type") == ["client_credentials"]
              and form.get("client_id") == [CLIENT_ID]
              and form.get("client_secret") == [CLIENT_SECRET])
        if not ok:
            return self.send(401, {"error": "invalid_client"})
        with LOCK:
            token = f"oauth-{len(ISSUED) + 1}"
            ISSUED.add(token)
        self.send(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        path = url.path
        with LOCK:
            HITS[path] = HITS.get(path, 0) + 1
        base = f"http://{self.headers.get('Host')}"
        page = int(q.get("page", "1"))
        if path == "/hits":
            with LOCK:
                return self.send(200, dict(HITS))
        if path == "/v2/calls":
            if self.bearer() != TOKEN:
                return self.send(401, {"error": "unauthorized"})
            size = int(q.get("per_page", "10"))
            pages = (len(CALLS) + size - 1) // size
            return self.send(200, {"data": page_of(CALLS, page, size), "meta": {"pages": pages}},
                             [("X-Pages", str(pages))])
        if path == "/oauth/calls":
            if self.bearer() not in ISSUED:
                return self.send(401, {"error": "unauthorized"})
            return self.send(200, {"data": page_of(CALLS, page, 10)})
        if path == "/oauth/expiring":
            # Each token serves one page, then expires: the client must fetch a new one.
            with LOCK:
                token = self.bearer()
                if token not in ISSUED or token in USED:
                    return self.send(401, {"error": "token expired"})
                USED.add(token)
            return self.send(200, {"data": page_of(CALLS, page, 10)})
        if path == "/oauth/refuses":
            return self.send(401, {"error": "unauthorized"})
        if path == "/offset":
            off, limit = int(q.get("offset", "0")), int(q.get("limit", "10"))
            return self.send(200, CALLS[off: off + limit])
        if path == "/cursor":
            at = int(q.get("cursor", "0"))
            nxt = at + 10 if at + 10 < len(CALLS) else None
            return self.send(200, {"data": CALLS[at: at + 10], "meta": {"next": str(nxt) if nxt else None}})
        if path == "/link":
            items = page_of(CALLS, page, 10)
            headers = []
            if page * 10 < len(CALLS):
                headers.append(("Link", f'<{base}/link?page={page + 1}>; rel="next", <{base}/link?page=1>; rel="first"'))
            return self.send(200, items, headers)
        if path == "/next":
            nxt = f"{base}/next?page={page + 1}" if page * 10 < len(CALLS) else None
            return self.send(200, {"data": page_of(CALLS, page, 10), "links": {"next": nxt}})
        if path == "/flaky":
            with LOCK:
                n = SEEN_FLAKY.get(page, 0)
                SEEN_FLAKY[page] = n + 1
            if n == 0:
                return self.send(503, {"error": "try again"})
            if n == 1:
                return self.send(429, {"error": "slow down"}, [("Retry-After", "1")])
            return self.send(200, {"data": page_of(CALLS, page, 10), "meta": {"pages": 3}})
        if path == "/drops":
            # The first try of each page loses its connection before any answer.
            with LOCK:
                n = SEEN_DROPS.get(page, 0)
                SEEN_DROPS[page] = n + 1
            if n == 0:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            return self.send(200, {"data": page_of(CALLS, page, 10)})
        if path == "/stalls":
            # The first try of each page answers after 3 s, past a 1 s timeout.
            with LOCK:
                n = SEEN_STALLS.get(page, 0)
                SEEN_STALLS[page] = n + 1
            if n == 0:
                time.sleep(3)
            return self.send(200, {"data": page_of(CALLS, page, 10)})
        if path == "/down":
            return self.send(503, {"error": "down"})
        if path == "/forever":
            return self.send(200, {"data": [CALLS[0]], "links": {"next": f"{base}/forever?page={page + 1}"}})
        if path == "/malformed":
            bad = [dict(c) for c in CALLS[:3]]
            bad[1]["duration_s"] = "long"
            return self.send(200, bad)
        self.send(404, {"error": "not found"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ready")
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Api)
    server.daemon_threads = True
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(str(a.port))
    server.serve_forever()


if __name__ == "__main__":
    main()
