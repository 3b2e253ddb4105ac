#!/usr/bin/env python3
"""A sked command type in Python: fetches params.url; asks for a retry (exit 75) when
the failure looks temporary."""
import json
import sys
import urllib.error
import urllib.request


def emit(kind, text):
    print(f"::{kind}::{text}", flush=True)


def main():
    req = json.load(sys.stdin)
    run, params = req["run"], req.get("params") or {}
    url = params.get("url")
    if not isinstance(url, str) or not url:
        emit("error", "params.url is required (a string)")
        return 2
    emit("info", f"run {run['id']} attempt {run['attempt']}: GET {url}")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        if e.code >= 500 or e.code == 429:
            emit("warning", f"HTTP {e.code}, will retry")
            return 75
        emit("error", f"HTTP {e.code}")
        return 1
    except (urllib.error.URLError, TimeoutError) as e:
        emit("warning", f"temporary failure: {e}, will retry")
        return 75
    emit("progress", 100)
    result = {"key": "fetch", "status": "ok", "data": {"url": url, "bytes": len(body)}}
    print("::result::" + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
