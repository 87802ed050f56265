#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
"""A scripted OAuth2 token server for tests/integration/t_oauth2.sh.

HTTPS on 127.0.0.1 with the tests' certificate.  It implements what
popsyncd and dovecot's oauth2 passdb use: the device authorization
endpoint (RFC 8628), the token endpoint (device_code and refresh_token
grants, RFC 6749 section 6, with optional refresh token rotation) and
token introspection (RFC 7662) for dovecot.  A /control endpoint lets
the test play the user (approve or deny a user code) and inject faults a
real provider will not produce on demand: slow_down, a 500, a malformed
body, a slow reply, expired access tokens, revoked refresh tokens.

Every token it issues is appended to TOKENS_FILE so the test can scan
outputs for them; every request is counted in the stats.

  tokenserver.py serve PORTFILE CERT KEY TOKENS_FILE CLIENT_ID SECRET USER
  tokenserver.py ctl PORT CAFILE ACTION [KEY=VALUE...]
"""

import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {
    "devices": {},      # device_code -> {user_code, status, expires}
    "access": {},       # access token -> expiry (epoch seconds)
    "refresh": set(),   # live refresh tokens
    "mode": "ok",       # ok | down | malformed | slow
    "rotate": False,
    "slow_down": 0,     # answer this many device polls with slow_down
    "access_lifetime": 3600,
    "polls": [],        # times of device_code polls
    "stats": {"device": 0, "token_device": 0, "token_refresh": 0,
              "introspect": 0, "introspect_active": 0},
}
CONF = {}


def new_token(kind):
    tok = "%s-%s" % (kind, secrets.token_urlsafe(24))
    with open(CONF["tokens_file"], "a") as f:
        f.write(tok + "\n")
    return tok


def issue(with_refresh):
    access = new_token("at")
    STATE["access"][access] = time.time() + STATE["access_lifetime"]
    out = {"access_token": access, "token_type": "Bearer",
           "expires_in": STATE["access_lifetime"]}
    if with_refresh:
        refresh = new_token("rt")
        STATE["refresh"].add(refresh)
        out["refresh_token"] = refresh
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("tokenserver: %s\n" % (fmt % args))

    def reply(self, code, obj, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def error(self, err, desc=None, code=400):
        obj = {"error": err}
        if desc:
            obj["error_description"] = desc
        self.reply(code, obj)

    def form(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n).decode()
        if self.path == "/control":
            return json.loads(data or "{}")
        return {k: v[0] for k, v in urllib.parse.parse_qs(data).items()}

    def client_ok(self, f):
        return (f.get("client_id") == CONF["client_id"] and
                f.get("client_secret") == CONF["client_secret"])

    def do_POST(self):
        f = self.form()
        with LOCK:
            if self.path == "/introspect":
                return self.introspect(f)
            if self.path == "/control":
                return self.control(f)
            mode = STATE["mode"]
        if self.path in ("/device", "/token") and mode != "ok":
            if mode == "slow":
                time.sleep(30)
            elif mode == "malformed":
                return self.reply(200, None, raw=b'{"access_token": "x",')
            else:
                return self.reply(500, None, raw=b"<h1>Internal error</h1>")
        with LOCK:
            if self.path == "/device":
                return self.device(f)
            if self.path == "/token":
                return self.token(f)
        self.reply(404, {"error": "not_found"})

    def device(self, f):
        STATE["stats"]["device"] += 1
        if not self.client_ok(f):
            return self.error("invalid_client", code=401)
        if f.get("scope") != CONF["scope"]:
            return self.error("invalid_scope")
        dc = secrets.token_urlsafe(24)
        uc = "%04d-%04d" % (secrets.randbelow(10000), secrets.randbelow(10000))
        STATE["devices"][dc] = {"user_code": uc, "status": "pending",
                                "expires": time.time() + 600}
        uri = "https://127.0.0.1:%d/activate" % CONF["port"]
        self.reply(200, {"device_code": dc, "user_code": uc,
                         "verification_uri": uri,
                         "verification_uri_complete": uri + "?code=" + uc,
                         "expires_in": 600, "interval": 1})

    def token(self, f):
        if not self.client_ok(f):
            return self.error("invalid_client", code=401)
        grant = f.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            STATE["stats"]["token_device"] += 1
            STATE["polls"].append(time.time())
            d = STATE["devices"].get(f.get("device_code"))
            if d is None:
                return self.error("invalid_grant")
            if STATE["slow_down"] > 0:
                STATE["slow_down"] -= 1
                return self.error("slow_down")
            if d["status"] == "expired" or time.time() > d["expires"]:
                return self.error("expired_token")
            if d["status"] == "denied":
                return self.error("access_denied")
            if d["status"] == "pending":
                return self.error("authorization_pending")
            if d["status"] == "used":
                return self.error("invalid_grant")
            d["status"] = "used"
            return self.reply(200, issue(True))
        if grant == "refresh_token":
            STATE["stats"]["token_refresh"] += 1
            rt = f.get("refresh_token")
            if rt not in STATE["refresh"]:
                return self.error("invalid_grant",
                                  "refresh token revoked or unknown")
            out = issue(STATE["rotate"])
            if STATE["rotate"]:
                STATE["refresh"].discard(rt)
            return self.reply(200, out)
        return self.error("unsupported_grant_type")

    def introspect(self, f):
        STATE["stats"]["introspect"] += 1
        exp = STATE["access"].get(f.get("token"))
        if exp is None or exp < time.time():
            return self.reply(200, {"active": False})
        STATE["stats"]["introspect_active"] += 1
        self.reply(200, {"active": True, "username": CONF["user"],
                         "exp": int(exp)})

    def control(self, f):
        act = f.get("action")
        out = {}
        if act in ("approve", "deny", "expire"):
            hit = [d for d in STATE["devices"].values()
                   if d["user_code"] == f.get("user_code")]
            if not hit:
                return self.reply(404, {"error": "no such user code"})
            hit[0]["status"] = {"approve": "approved", "deny": "denied",
                                "expire": "expired"}[act]
        elif act == "set":
            for k in ("mode", "rotate", "slow_down", "access_lifetime"):
                if k in f:
                    STATE[k] = f[k]
        elif act == "expire_access":
            for k in STATE["access"]:
                STATE["access"][k] = 0
        elif act == "revoke_refresh":
            STATE["refresh"].clear()
        elif act == "stats":
            out = dict(STATE["stats"])
            out["polls"] = STATE["polls"]
            out["live_refresh"] = len(STATE["refresh"])
        else:
            return self.reply(400, {"error": "unknown action"})
        self.reply(200, out)


def serve(argv):
    portfile, cert, key, tokens_file, client_id, secret, user = argv
    CONF.update(tokens_file=tokens_file, client_id=client_id,
                client_secret=secret, user=user,
                scope="mail popsyncd-test")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    CONF["port"] = srv.server_address[1]
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % CONF["port"])
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


def ctl(argv):
    port, cafile, action = argv[:3]
    body = {"action": action}
    for kv in argv[3:]:
        k, v = kv.split("=", 1)
        try:
            body[k] = json.loads(v)
        except ValueError:
            body[k] = v
    ctx = ssl.create_default_context(cafile=cafile)
    req = urllib.request.Request("https://127.0.0.1:%s/control" % port,
                                 data=json.dumps(body).encode(),
                                 method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        print(r.read().decode())


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2:])
    else:
        ctl(sys.argv[2:])
