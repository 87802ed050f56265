#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The popsyncd authors
"""Play the user of the device flow at oidc-provider's own pages.

  user.py CAFILE URI USER_CODE LOGIN

Opens URI (the verification URI popsyncd printed) and submits each form
the provider shows, with cookies kept as a browser would: the user code,
its confirmation, the login (devInteractions takes any password) and the
consent, until the provider says the device is signed in.  Exit 0 then,
1 with the last page on stderr otherwise.
"""

import html
import http.cookiejar
import re
import ssl
import sys
import urllib.parse
import urllib.request

cafile, uri, user_code, login = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)
opener = urllib.request.build_opener(
    urllib.request.HTTPSHandler(context=ctx),
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

FILL = {"user_code": user_code, "login": login, "password": "any",
        "confirm": "yes"}


def fetch(url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with opener.open(url, data=body, timeout=10) as r:
        return r.geturl(), r.read().decode("utf-8", "replace")


url, page = fetch(uri)
for step in range(10):
    if re.search(r"Sign-in Success|successfully signed in|You can close",
                 page, re.I):
        print("approved after %d forms" % step)
        sys.exit(0)
    form = re.search(r"<form[^>]*>.*?</form>", page, re.S | re.I)
    if form is None:
        break
    f = form.group(0)
    action = re.search(r'action="([^"]*)"', f)
    target = urllib.parse.urljoin(url, html.unescape(action.group(1))
                                  if action else url)
    data = {}
    for inp in re.finditer(r"<(?:input|button)[^>]*>", f, re.I):
        tag = inp.group(0)
        name = re.search(r'name="([^"]*)"', tag)
        if name is None:
            continue
        name = name.group(1)
        if name == "abort":
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name] = FILL.get(name, html.unescape(value.group(1))
                              if value else "")
    url, page = fetch(target, data)
sys.stderr.write("no success page; last page at %s:\n%s\n" % (url, page))
sys.exit(1)
