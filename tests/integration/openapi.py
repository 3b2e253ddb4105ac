"""The black-box suite's contract check: every reply the suite receives is held
against docs/openapi.yaml (the document built into the binary) by Server.request,
which every HTTP call of the suite goes through.  A reply fails the test that got it
(AssertionError naming the method, the path, the status and what is wrong) when:

- its path matches no documented path and it is not the framework's 404 problem;
- its path is documented but not its method, and it is not the 405 problem with an
  Allow header that lists exactly the documented methods;
- its status is not among the operation's responses;
- its Content-Type is not one the response documents, or it has a body where none
  is documented;
- its body does not validate against the response's schema (JSON Schema 2020-12,
  Draft202012Validator; the schemas close their objects, so an undocumented member
  fails);
- a documented header is missing or does not match its schema, or it carries one of
  the API's own headers (ETag, Location, Retry-After, WWW-Authenticate, Allow) that
  the response does not document;
- the request sent a query argument the operation does not document, or, when the
  server accepted it (2xx), a query argument, path parameter or body that the
  document would refuse (the document must not be stricter than the server).

A test that sends a malformed request on purpose (an argument the route does not
take, a name that is not text: test_http_strict) says so with contract="reply-only"
(Server.request, check): the query arguments it sent need not be documented, but
only while the server refuses the request; its reply is held in full as above
(the status must be documented for the operation, the body must be the problem the
document describes), and a request the server accepted (2xx) is held in full too:
an undocumented argument the server took is a departure from the document, whatever
the test meant.  The default is contract="full".

SKED_TEST_OPENAPI=0 turns the check off (for debugging a test, never in CI).
SKED_TEST_OPENAPI_SEEN=FILE appends each (method, path template, status) the suite
received to FILE when the process ends: what the suite covers of the document.
Standard library plus Debian's python3-yaml and python3-jsonschema."""
import atexit
import gzip
import json
import os
import re
import threading
import urllib.parse

import yaml
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

HERE = os.path.dirname(os.path.abspath(__file__))
DOCUMENT = os.path.normpath(os.path.join(HERE, "..", "..", "docs", "openapi.yaml"))
ENABLED = os.environ.get("SKED_TEST_OPENAPI", "1") != "0"

# headers of the API's own that a response must document when it sends them
# how much of an exchange is held against the document (check's contract=)
CONTRACTS = ("full", "reply-only")
API_HEADERS = ("ETag", "Location", "Retry-After", "WWW-Authenticate", "Allow")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Contract:
    """docs/openapi.yaml, ready to check replies against."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = RefResolver.from_schema(doc)
        self.validators = {}
        self.seen = set()
        self.paths = []
        for template, item in doc["paths"].items():
            segs = template.strip("/").split("/") if template != "/" else []
            self.paths.append((template, segs, item))

    # ---- the document ----

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            obj = self.resolver.resolve(obj["$ref"])[1]
        return obj

    def validator(self, schema):
        v = self.validators.get(id(schema))
        if v is None:
            v = Draft202012Validator(schema, resolver=self.resolver, format_checker=FormatChecker())
            self.validators[id(schema)] = (v, schema)  # keep schema alive: id() stays unique
            return v
        return v[0]

    def match(self, path):
        """(template, path item, {param: raw value}) of the documented path that
        matches, the one with most literal segments (as the server picks), or None."""
        segs = path.strip("/").split("/") if path.strip("/") else []
        best = None
        for template, tsegs, item in self.paths:
            if len(tsegs) != len(segs):
                continue
            params, literals = {}, 0
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}"):
                    if not s:
                        break
                    params[t[1:-1]] = urllib.parse.unquote(s)
                elif t == s:
                    literals += 1
                else:
                    break
            else:
                if best is None or literals > best[0]:
                    best = (literals, template, item, params)
        return best and best[1:]

    def parameters(self, item, op):
        out = {}
        for p in list(item.get("parameters", [])) + list(op.get("parameters", [])):
            p = self.deref(p)
            out[(p["in"], p["name"].lower() if p["in"] == "header" else p["name"])] = p
        return out

    # ---- the check ----

    def check(self, method, target, sent, status, headers, data, contract="full"):
        """Raises AssertionError when the exchange departs from the document.
        contract: "full", or "reply-only" for a request malformed on purpose (see the
        module's docstring)."""
        if contract not in CONTRACTS:
            raise ValueError(f"contract={contract!r}: expected one of {', '.join(CONTRACTS)}")
        path, _, query = target.partition("?")
        problems = self.problems(method.upper(), path, query, sent, status, headers, data, contract == "reply-only")
        if problems:
            shown = data[:600].decode("utf-8", "replace") if data else ""
            raise AssertionError(f"OpenAPI (docs/openapi.yaml): {method} {target} -> {status}:\n  "
                                 + "\n  ".join(problems) + (f"\n  reply: {shown}" if shown else ""))

    def problems(self, method, path, query, sent, status, headers, data, reply_only=False):
        found = self.match(path)
        if not found:
            if status == 404 and self.is_problem(headers, data, 404):
                return []  # the framework's "no such resource": consistent with the document
            return [f"undocumented route: no path of the document matches {path}"]
        template, item, pvalues = found
        self.seen.add((method, template, status))
        op_name = "get" if method == "HEAD" else method.lower()
        op = item.get(op_name)
        if op is None:
            documented = {m.upper() for m in METHODS if m in item}
            if "GET" in documented:
                documented.add("HEAD")
            allow = {m.strip() for m in (header(headers, "Allow") or "").split(",") if m.strip()}
            if status == 405 and self.is_problem(headers, data, 405) and allow == documented:
                return []
            return [f"undocumented method: {template} documents {sorted(documented)}"
                    + (f", the server allows {sorted(allow)}" if status == 405 else "")]
        out = []
        out += self.check_request(template, item, op, pvalues, query, sent, status, reply_only)
        response = op["responses"].get(str(status))
        if response is None:
            return out + [f"undocumented status {status} for {method} {template} "
                          f"(documented: {', '.join(sorted(op['responses']))})"]
        response = self.deref(response)
        out += self.check_headers(response, headers)
        out += self.check_body(method, response, headers, data)
        return out

    def is_problem(self, headers, data, status):
        if media_type(headers) != "application/problem+json":
            return False
        try:
            body = json.loads(data)
        except ValueError:
            return False
        schema = self.doc["components"]["schemas"]["Problem"]
        return self.validator(schema).is_valid(body) and body.get("status") == status

    def check_request(self, template, item, op, pvalues, query, sent, status, reply_only=False):
        """What was sent, against the operation.  reply_only: an undocumented query
        argument is let through while the server refused the request."""
        out = []
        params = self.parameters(item, op)
        accepted = 200 <= status < 300
        keys = self.query_keys(op)
        for name, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
            p = params.get(("query", name))
            if p is None and name in keys:
                continue  # a credential (an apiKey security scheme in the query)
            if p is None and reply_only and not accepted:
                continue  # sent on purpose, and refused: the reply is what is checked
            if p is None:
                out.append(f"undocumented query argument {name!r} for {template}"
                           + (" (accepted by the server, with contract='reply-only')" if reply_only else ""))
            elif accepted:
                out += self.check_value(f"query argument {name}", p.get("schema", {}), values[-1])
        if accepted:
            for name, value in pvalues.items():
                p = params.get(("path", name))
                if p is None:
                    out.append(f"path parameter {{{name}}} is not documented")
                else:
                    out += self.check_value(f"path parameter {name}", p.get("schema", {}), value)
            body = self.deref(op.get("requestBody", {})).get("content", {}).get("application/json")
            if body is not None and sent:
                try:
                    value = json.loads(sent)
                except ValueError:
                    value = None
                    out.append("the server accepted a request body that is not JSON")
                if value is not None:
                    for e in self.errors(body["schema"], value):
                        out.append(f"the server accepted a request body the document refuses: {e}")
        return out

    def query_keys(self, op):
        """The query arguments that carry credentials of the operation's security."""
        schemes = self.doc["components"].get("securitySchemes", {})
        out = set()
        for req in op.get("security", self.doc.get("security", [])):
            for name in req:
                sc = schemes.get(name, {})
                if sc.get("type") == "apiKey" and sc.get("in") == "query":
                    out.add(sc["name"])
        return out

    def check_value(self, what, schema, text):
        """A query argument or path parameter (text) against its schema; numbers are
        read as such where the schema takes them."""
        value = text
        types = self.deref(schema).get("type")
        types = types if isinstance(types, list) else [types]
        if ("integer" in types or "number" in types) and re.fullmatch(r" *-?[0-9]+", text):
            value = int(text)
        return [f"{what} {text!r} accepted by the server but refused by the document: {e}"
                for e in self.errors(schema, value)]

    def check_headers(self, response, headers):
        out = []
        documented = {}
        for name, h in response.get("headers", {}).items():
            documented[name.lower()] = self.deref(h)
        for name, h in documented.items():
            value = header(headers, name)
            if value is None:
                if h.get("required"):
                    out.append(f"missing header {name}")
                continue
            for e in self.errors(h.get("schema", {}), value):
                out.append(f"header {name}: {e}")
        for name in API_HEADERS:
            if header(headers, name) is not None and name.lower() not in documented:
                out.append(f"undocumented header {name}: {header(headers, name)}")
        return out

    def check_body(self, method, response, headers, data):
        content = response.get("content")
        mt = media_type(headers)
        if not content:
            if data:
                return [f"a body ({mt}, {len(data)} bytes) where the document describes none"]
            return []
        media = {k.split(";")[0].strip().lower(): v for k, v in content.items()}
        if mt not in media:
            return [f"Content-Type {header(headers, 'Content-Type')!r}, documented: {', '.join(content)}"]
        if method == "HEAD":
            return []
        coding = (header(headers, "Content-Encoding") or "").strip().lower()
        if coding == "gzip":  # the web UI's files (GET /ui/{file}): what a client reads
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                return [f"Content-Encoding: gzip, but the body is not gzip: {e}"]
        elif coding:
            return [f"Content-Encoding {coding!r}: the suite reads gzip only"]
        schema = media[mt].get("schema", {})
        if mt == "application/json" or mt.endswith("+json"):
            try:
                body = json.loads(data)
            except ValueError as e:
                return [f"body is not JSON: {e}"]
        else:
            try:
                body = data.decode("utf-8")
            except UnicodeDecodeError as e:
                return [f"body is not UTF-8 text: {e}"]
        return [f"body: {e}" for e in self.errors(schema, body)]

    def errors(self, schema, value):
        """The validation errors of value against schema, each with where it is."""
        out = []
        for e in sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))[:5]:
            while e.context:  # oneOf/anyOf: say why the likeliest alternative failed
                e = likeliest(e.context)
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path) or "(top)"
            out.append(f"{where}: {e.message[:300]}")
        return out


def likeliest(errors):
    """Of the errors of a oneOf's alternatives, the one that says most: not that the
    value is of another type than an alternative takes (an object is not an array),
    and the deepest."""
    errors = list(errors)
    fitting = [e for e in errors if not (e.validator == "type" and not list(e.relative_path))]
    return max(fitting or errors, key=lambda e: len(e.absolute_path))


def header(headers, name):
    if headers is None:
        return None
    v = headers.get(name)
    return v


def media_type(headers):
    ct = header(headers, "Content-Type") or ""
    return ct.split(";")[0].strip().lower()


_contract = None


def _write_seen():
    if _contract is not None and os.environ.get("SKED_TEST_OPENAPI_SEEN"):
        with open(os.environ["SKED_TEST_OPENAPI_SEEN"], "a") as f:
            for m, t, st in sorted(_contract.seen):
                f.write(f"{m} {t} {st}\n")


def contract():
    global _contract
    if _contract is None:
        with open(DOCUMENT) as f:
            _contract = Contract(yaml.safe_load(f))
        atexit.register(_write_seen)
    return _contract


def _document():
    return contract()  # check's own parameter is named contract


_lock = threading.Lock()  # RefResolver keeps a stack of scopes: one check at a time


def check(method, target, sent, status, headers, data, contract="full"):
    """Holds one exchange against the document (see the module's docstring);
    contract="reply-only" for a request malformed on purpose.  Any thread
    (test_writes sends from 16)."""
    if contract not in CONTRACTS:  # even when the check is off: a typo is the test's bug
        raise ValueError(f"contract={contract!r}: expected one of {', '.join(CONTRACTS)}")
    if ENABLED:
        with _lock:
            _document().check(method, target, sent, status, headers, data, contract)
