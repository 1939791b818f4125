"""A local stand-in for a Pryv.io platform: register, core and DNS on 127.0.0.1.

It answers as the real platform does (service-register 1.9 in DNS mode, open-pryv.io 1.9.3 in
DNS-less mode), from in-memory data: one health account with one shared access, whose token the
plugins read from a file. Faults (a dead core, a rejected token, a silent DNS...) are switched on
with ``Sandbox.set_faults``, the ``/_sandbox/faults`` endpoint or ``--fault NAME=VALUE``.

    with Sandbox(state_dir="/tmp/sb") as sb:
        sb.set_faults(core="down")
        ...  # https://127.0.0.1:sb.http_port/ (CA: sb.ca_file), DNS on 127.0.0.1:sb.dns_port

Stdlib and dnspython only; trustme is imported when HTTPS needs a certificate.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import os
import re
import secrets
import shlex
import signal
import socket
import socketserver
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

API_VERSION = "1.9.3-open"
SERIAL = "2019061301"
DNS_TTL = 60
CONNECTION_TIMEOUT = 30  # seconds an idle (or handshaking) client connection is kept
INFRA_LABELS = frozenset({"reg", "sw", "co1"})  # platform hosts under DOMAIN, never users
RESERVED_WORDS = frozenset({"admin", "administrator", "healthcheck", "register", "registry",
                            "support", "system", "pryvio"})
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{3,58}[a-z0-9]")
HOSTING_RE = re.compile(r"[A-Za-z0-9.-]{4,70}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PERMISSION_LEVELS = ("read", "contribute", "manage", "create-only")
LOGIN_FIELDS = ("appId", "password", "username")
PLUGINS_DEFAULT_USERNAME = "healthmetrics01"  # the plugins' --username default
DNS_MODE_HOSTINGS = {"hosting1": True, "hosting2": False}  # name -> available
ADDRESSES = {dns.rdatatype.A: "127.0.0.1", dns.rdatatype.AAAA: "::1"}
ID_ALPHABET = string.ascii_lowercase + string.digits
MISSING_TOKEN = ('The access token is missing: expected an "Authorization" header or an "auth" '
                 "query string parameter.")
UNTRUSTED_APP = 'The app id ("appId") is either missing or not trusted.'

FAULT_CHOICES = {
    "core": ("ok", "down"),
    "token": ("ok", "rejected", "expired"),
    "account": ("ok", "gone"),
    "register": ("ok", "failing"),
    "dns": ("ok", "nxdomain", "servfail", "refused", "empty", "silent"),
    "hostings": ("ok", "all-available", "none-available"),
    "service-info": ("ok", "mismatch", "incomplete"),
}
NUMERIC_FAULTS = {"delay": (0, 3600), "skew": (-1e6, 1e6)}  # seconds: (lowest, highest)
TEXT_FAULTS = {"api-version": re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,39}")}  # name: what a value must match
DEFAULT_FAULTS = {"delay": 0.0, "skew": 0.0, **{name: "ok" for name in FAULT_CHOICES}, "api-version": API_VERSION}

# service-register's messages: id -> (message, detail)
SR_MESSAGES = {
    "INVALID_DATA": ("Invalid Data", "Some of the data transmited is invalid."),
    "INVALID_JSON_REQUEST": ("Invalid Data", "The data transmited is not in a valid JSON format."),
    "INVALID_USER_NAME": ("Invalid user name",
                          "User name must be made of 5 to 60 alphanumeric characters (- authorized)."),
    "RESERVED_USER_NAME": ("Reserved user name", "User name is reserved."),
    "EXISTING_USER_NAME": ("Username already exists", "User name must be unique."),
    "INVALID_PASSWORD": ("Invalid password", "Password must be between 6 and 99 characters."),
    "INVALID_APPID": ("Invalid app id", "App id is not recognized"),
    "INVALID_HOSTING": ("Invalid hosting", "Hosting value must be made of 4 to 70 alphanumeric "
                                           "characters (- and . authorized)."),
    "UNAVAILABLE_HOSTING": ("Hosting not available",
                            "Hosting unknown, not active or unavailable, retry with another one"),
    "INVALID_LANGUAGE": ("Invalid language code", "Language code should be a string of 1-5 characters."),
    "INVALID_EMAIL": ("Invalid email address", "E-mail address format not recognized"),
    "EXISTING_EMAIL": ("E-mail already exists", "This e-mail is already assigned to a user."),
}

NGINX_502 = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
             b"</h1></center><hr><center>nginx</center></body></html>\n")


def fault_name(name):
    """A fault's name as the control endpoint shows it: `service_info` (as Python names it) is `service-info`."""
    return name.replace("_", "-")


def check_fault(name, value):
    """Return the fault's value, normalised; ValueError if the name or the value is unknown."""
    name = fault_name(name)
    if name in TEXT_FAULTS:
        if not isinstance(value, str) or not TEXT_FAULTS[name].fullmatch(value):
            raise ValueError(f"{name} must be a version like 1.9.3-open, not {value!r}")
        return value
    if name in NUMERIC_FAULTS:
        low, high = NUMERIC_FAULTS[name]
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = float("nan")
        if not low <= seconds <= high:  # also rejects nan
            raise ValueError(f"{name} must be seconds between {low:g} and {high:g}, not {value!r}")
        return seconds
    if name not in FAULT_CHOICES:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(DEFAULT_FAULTS)}")
    if value not in FAULT_CHOICES[name]:
        raise ValueError(f"fault {name} takes one of {', '.join(FAULT_CHOICES[name])}, not {value!r}")
    return value


# ---- HTTP replies ------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)
    chunked: bool = False  # streamed like core's GET /events: headers first, then the body


class Abort(Exception):
    """Raised by a handler to answer with ``reply`` at once."""

    def __init__(self, reply):
        super().__init__(reply.status)
        self.reply = reply


def meta():
    return {"apiVersion": API_VERSION, "serverTime": time.time(), "serial": SERIAL}


def _with_meta_faults(reply, skew, version):
    """The reply of a platform whose clock is off by `skew` seconds (meta.serverTime) and whose API reports
    `version` (the API-Version header and meta.apiVersion)."""
    if "API-Version" in reply.headers:
        reply.headers["API-Version"] = version
    if b'"serverTime"' in reply.body:
        data = json.loads(reply.body)
        if isinstance(data, dict) and isinstance(data.get("meta"), dict):
            data["meta"].update(serverTime=data["meta"]["serverTime"] + skew, apiVersion=version)
            reply.body = json.dumps(data).encode()


def json_reply(status, body, chunked=False):
    headers = {"Content-Type": "application/json; charset=utf-8", "API-Version": API_VERSION}
    return Reply(status, json.dumps(body).encode(), headers, chunked)


def api_error(status, error_id, message, data=None):
    """A core (open-pryv.io) error: ``{"error": {...}, "meta": {...}}``."""
    error = {"id": error_id, "message": message}
    if data is not None:
        error["data"] = data
    return json_reply(status, {"error": error, "meta": meta()})


def invalid_parameters(*params):
    data = [{"code": f"{param}-invalid", "param": param} for param in params]
    return api_error(400, "invalid-parameters-format", "The parameters' format is invalid.", data)


def item_exists(resource, keys):
    described = ", ".join(f'{key} "{"null" if value is None else value}"' for key, value in keys.items())
    article = "An" if resource[0] in "aeiou" else "A"  # Pryv's own rule: "An user with ..."
    return api_error(409, "item-already-exists", f"{article} {resource} with {described} already exists", keys)


def unknown_resource():
    return api_error(404, "unknown-resource", "Unknown resource")


def sr_error(error_id, sub_errors=()):
    """A service-register error: a flat ``{"id", "message", "detail", "errors"}`` body, status 400."""
    def body(eid):
        message, detail = SR_MESSAGES[eid]
        return {"id": eid, "message": message, "detail": detail}
    return json_reply(400, {**body(error_id), "errors": [body(eid) for eid in sub_errors]})


def bad_gateway():
    return Reply(502, NGINX_502, {"Content-Type": "text/html"})


def _is_text(value, shortest, longest):
    return isinstance(value, str) and shortest <= len(value) <= longest


def _matches(regex, value):
    return isinstance(value, str) and regex.fullmatch(value) is not None


def _new_id():
    """A cuid-like id, as Pryv uses for ids and tokens."""
    return "c" + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))


def _expired(access, now):
    return access.get("expires") is not None and access["expires"] <= now


class Request:
    """One HTTP request, as the platform logic sees it."""

    def __init__(self, method, target, headers, body=b""):
        url = urlsplit(target)
        self.method, self.headers, self.body = method, headers, body
        self.path = unquote(url.path) or "/"
        self.query = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        host = headers.get("Host", "").strip().lower()
        self.host = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0].rstrip(".")
        self.dns_mode = False  # set by the router: which URL and body shapes to answer with
        self.access_id = None  # set once a token resolves: the Pryv-Access-Id header

    def json(self):
        """The body as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def token(self):
        """The raw ``Authorization`` header (``Basic base64(token:)`` decoded), else ``?auth=``."""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                auth = base64.b64decode(auth[6:]).decode().partition(":")[0]
            except ValueError:  # binascii.Error and UnicodeDecodeError both are
                auth = ""
        return auth or self.query.get("auth")


# ---- the platform ------------------------------------------------------------------------------

class Sandbox:
    """A Pryv.io platform on loopback: one HTTP(S) server (register and cores) and one DNS server."""

    def __init__(self, *, domain="pryv.test", hostname="localhost", scheme="https", state_dir=None,
                 username=PLUGINS_DEFAULT_USERNAME, password="healthmetrics-pass", http_port=0, dns_port=0,
                 verbose=False, cert_days=None):
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, not {scheme!r}")
        if cert_days is not None and not -36500 <= cert_days <= 36500:  # also rejects nan
            raise ValueError(f"cert_days must be between -36500 and 36500, not {cert_days!r}")
        if not USERNAME_RE.fullmatch(username):
            raise ValueError(f"invalid Pryv user name {username!r}")
        self.domain = domain.lower().rstrip(".")
        self.hostname = hostname.lower()
        self.scheme = scheme
        self.username, self.password = username, password
        self.http_port, self.dns_port = http_port, dns_port
        self.verbose = verbose
        self.cert_days = cert_days  # the server certificate's life left, in days (None: until the year 3000)
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="pryv-sandbox-")
        self.ca_file = os.path.join(self.state_dir, "ca.pem") if scheme == "https" else None
        self.token_file = os.path.join(self.state_dir, "token")
        self.token = _new_id()
        self.session_ttl = 14 * 24 * 3600  # a login session's life, extended on each use
        self._zone = dns.name.from_text(self.domain)
        self._lock = threading.RLock()
        self._servers = []
        self.reset()

    # -- public API

    def start(self):
        if self._servers:
            raise RuntimeError("the sandbox is already running")
        os.makedirs(self.state_dir, exist_ok=True)
        _write_private(self.token_file, self.token)
        tls = self._tls_context() if self.scheme == "https" else None
        servers = []
        try:
            servers.append(_HTTPServer(("127.0.0.1", self.http_port), _HTTPHandler, self, tls))
            servers.extend(_bind_dns(self.dns_port, self))
        except BaseException:
            for server in servers:
                server.server_close()
            raise
        for server in servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                             name=f"sandbox-{type(server).__name__}", daemon=True).start()
        self._servers = servers
        self.http_port = servers[0].server_address[1]
        self.dns_port = servers[1].server_address[1]
        return self

    def stop(self):
        servers, self._servers = self._servers, []
        for server in servers:
            server.shutdown()
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def faults(self):
        with self._lock:
            return dict(self._faults)

    def set_faults(self, **faults):
        checked = {fault_name(name): check_fault(name, value) for name, value in faults.items()}
        with self._lock:
            self._faults.update(checked)

    def reset(self):
        """All faults off, and the data back to the health account with its one access."""
        with self._lock:
            self._faults = dict(DEFAULT_FAULTS)
            self._users = {}
            user = self._add_user(self.username, self.password, f"{self.username}@{self.domain}", "en")
            health = self._add_access(user, "shared", "metricsAccess", [{"streamId": "*", "level": "manage"}],
                                      created_by="system", token=self.token)
            now = time.time()
            user["events"] = [
                {"id": _new_id(), "time": now - age, "streamIds": ["health"], "streamId": "health",
                 "type": "note/txt", "content": f"sandbox event {n}", "tags": [], "created": now - age,
                 "createdBy": health["id"], "modified": now - age, "modifiedBy": health["id"]}
                for n, age in ((1, 120), (2, 60))
            ]

    def command_lines(self):
        """(label, argv) of the plugin command lines that check this sandbox."""
        port = str(self.http_port)
        tls = ["--ca-cert", self.ca_file] if self.scheme == "https" else ["--scheme", "http"]
        token = ["--token-file", self.token_file]
        dns_mode = ["--domain", self.domain, "--address", "127.0.0.1", "--port", port, *tls]
        dnsless = ["--hostname", self.hostname, "--port", port, *tls]
        lines = [
            ("dns", ["check_pryv_dns", "--domain", self.domain, "--server", "127.0.0.1",
                     "--port", str(self.dns_port)]),
            ("register, DNS mode", ["check_pryv_register", *dns_mode]),
            ("core, DNS mode", ["check_pryv_core", *dns_mode, *token]),
            ("register, DNS-less", ["check_pryv_register", *dnsless]),
            ("core, DNS-less", ["check_pryv_core", *dnsless, *token]),
        ]
        if self.username != PLUGINS_DEFAULT_USERNAME:
            lines = [(label, [*argv, "--username", self.username]) for label, argv in lines]
        return lines

    def handle(self, request):
        """The Reply to one HTTP request; never raises."""
        try:
            with self._lock:
                reply = self._route(request)
        except Abort as abort:
            reply = abort.reply
        except Exception:
            traceback.print_exc()
            reply = api_error(500, "unexpected-error", "Unexpected error")
        if request.access_id:
            reply.headers["Pryv-Access-Id"] = request.access_id
        faults = self.faults
        if not request.path.startswith("/_sandbox/"):  # the control endpoint is neither rewritten nor delayed
            if faults["skew"] or faults["api-version"] != API_VERSION:
                _with_meta_faults(reply, faults["skew"], faults["api-version"])
            time.sleep(faults["delay"])
        return reply

    # -- data

    def _user(self, name):
        if name == self.username and self._faults["account"] == "gone":
            return None
        return self._users.get(name)

    def _email_taken(self, email):
        return any(user["email"].lower() == email.lower() for user in self._users.values())

    def _add_user(self, name, password, email, language):
        user = {"username": name, "password": password, "email": email, "language": language,
                "accesses": [], "sessions": {}, "events": []}
        self._users[name] = user
        return user

    def _add_access(self, user, kind, name, permissions, created_by, token=None, expires=None, device_name=None):
        now = time.time()
        access = {"id": _new_id(), "token": token or _new_id(), "type": kind, "name": name,
                  "permissions": permissions, "created": now, "createdBy": created_by,
                  "modified": now, "modifiedBy": created_by}
        if device_name is not None:
            access["deviceName"] = device_name
        if expires is not None:
            access["expires"] = expires
        if kind == "personal":
            user["sessions"][access["token"]] = now + self.session_ttl
        user["accesses"].append(access)
        return access

    # -- URLs

    def _url(self, host, path="/", token=None):
        default_port = 443 if self.scheme == "https" else 80
        port = "" if self.http_port == default_port else f":{self.http_port}"
        credentials = f"{token}@" if token else ""
        return f"{self.scheme}://{credentials}{host}{port}{path}"

    def _api_endpoint(self, request, username, token=None):
        if request.dns_mode:
            return self._url(f"{username}.{self.domain}", "/", token)
        return self._url(self.hostname, f"/{username}/", token)

    # -- routing

    def _route(self, request):
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        if request.host == f"reg.{self.domain}":
            return self._register(request, request.path, dns_mode=True)
        label, _, parent = request.host.partition(".")
        if parent == self.domain and label not in INFRA_LABELS:
            return self._core(request, label, request.path, dns_mode=True)
        first, _, rest = request.path[1:].partition("/")  # DNS-less: /reg/... and /USER/...
        if first == "reg":
            return self._register(request, "/" + rest, dns_mode=False)
        if first:
            return self._core(request, first, "/" + rest, dns_mode=False)
        return unknown_resource()

    def _register(self, request, path, dns_mode):
        request.dns_mode = dns_mode
        if self._faults["register"] == "failing":
            if dns_mode:
                return json_reply(500, {"id": "INTERNAL_ERROR", "message": "Internal error"})
            return api_error(500, "unexpected-error", "Unexpected error")
        route, name = "/" + path.strip("/"), None
        if route.endswith("/check_username") and route.count("/") == 2:
            route, name = "/:username/check_username", route.split("/")[1]
        handler = (SR_ROUTES if dns_mode else DNSLESS_REGISTER_ROUTES).get((request.method, route))
        return handler(self, request, name) if handler else unknown_resource()

    def _core(self, request, username, path, dns_mode):
        request.dns_mode = dns_mode
        if self._faults["core"] == "down":
            return bad_gateway()
        user = self._user(username)
        if user is None:
            return api_error(404, "unknown-resource", f'Unknown user "{username}"')
        handler = CORE_ROUTES.get((request.method, "/" + path.strip("/")))
        return handler(self, request, user) if handler else unknown_resource()

    def _control(self, request):
        route = (request.method, request.path)
        if route == ("POST", "/_sandbox/faults"):
            faults = request.json()
            if not isinstance(faults, dict):
                return json_reply(400, {"error": "expected a JSON object of faults"})
            try:
                self.set_faults(**faults)
            except ValueError as error:
                return json_reply(400, {"error": str(error)})
        elif route == ("POST", "/_sandbox/reset"):
            self.reset()
        elif route != ("GET", "/_sandbox/faults"):
            return unknown_resource()
        return json_reply(200, self.faults)

    # -- register handlers: (self, request, username from the path or None)

    def _sr_check_username(self, request, raw_name):
        name = raw_name.strip().lower()
        if not USERNAME_RE.fullmatch(name):
            return sr_error("INVALID_USER_NAME")
        if name in RESERVED_WORDS:
            return json_reply(200, {"reserved": True, "reason": "RESERVED_USER_NAME"})
        return json_reply(200, {"reserved": self._user(name) is not None})

    def _dnsless_check_username(self, request, name):
        if not USERNAME_RE.fullmatch(name):  # no trimming nor lower-casing here
            return invalid_parameters("username")
        taken = name in RESERVED_WORDS or self._user(name) is not None
        return json_reply(200, {"reserved": taken, "meta": meta()})

    def _sr_create_user(self, request, _):
        body = request.json()
        if not isinstance(body, dict):
            return sr_error("INVALID_JSON_REQUEST")
        hosting, email, password = body.get("hosting"), body.get("email"), body.get("password")
        username = body.get("username")
        username = username.strip().lower() if isinstance(username, str) else None
        language = body.get("languageCode", "en")
        checks = (("INVALID_HOSTING", _matches(HOSTING_RE, hosting)),
                  ("INVALID_APPID", _is_text(body.get("appid"), 6, 99)),
                  ("INVALID_USER_NAME", _matches(USERNAME_RE, username)),
                  ("INVALID_EMAIL", _matches(EMAIL_RE, email)),
                  ("INVALID_PASSWORD", _is_text(password, 6, 99)),
                  ("INVALID_LANGUAGE", _is_text(language, 1, 5)))
        for error_id, valid in checks:  # the register reports the first bad field only
            if not valid:
                return sr_error(error_id)
        conflicts = [error_id for error_id, hit in (("RESERVED_USER_NAME", username in RESERVED_WORDS),
                                                    ("EXISTING_USER_NAME", self._user(username) is not None),
                                                    ("EXISTING_EMAIL", self._email_taken(email))) if hit]
        if conflicts:
            return sr_error(conflicts[0]) if len(conflicts) == 1 else sr_error("INVALID_DATA", conflicts)
        if not self._hosting_availability(dns_mode=True).get(hosting):
            return sr_error("UNAVAILABLE_HOSTING")
        self._add_user(username, password, email, language)
        return json_reply(200, {"username": username, "server": f"{username}.{self.domain}",
                                "apiEndpoint": self._api_endpoint(request, username)})

    def _create_user(self, request, _):
        """Core's POST /users (also the register's /users, and DNS-less /reg/user)."""
        body = request.json()
        body = body if isinstance(body, dict) else {}
        app_id = body.get("appId", body.get("appid"))
        username, email, password = body.get("username"), body.get("email"), body.get("password")
        language = body.get("language", "en")
        bad = [param for param, valid in (("appId", _is_text(app_id, 1, 99)),
                                          ("username", _matches(USERNAME_RE, username)),
                                          ("password", _is_text(password, 6, 100)),
                                          ("email", _matches(EMAIL_RE, email)),
                                          ("language", _is_text(language, 1, 5))) if not valid]
        if bad:
            return invalid_parameters(*bad)
        conflicts = {}
        if username in RESERVED_WORDS or self._user(username) is not None:
            conflicts["username"] = username
        if self._email_taken(email):
            conflicts["email"] = email
        if conflicts:
            return item_exists("user", conflicts)
        user = self._add_user(username, password, email, language)
        personal = self._add_access(user, "personal", app_id, [], created_by="system")
        return json_reply(201, {"username": username, "meta": meta(),
                                "apiEndpoint": self._api_endpoint(request, username, personal["token"])})

    def _hosting_availability(self, dns_mode):
        """{hosting: available}: DNS mode hosting1 and hosting2 (closed to new accounts), DNS-less hosting1."""
        hostings = dict(DNS_MODE_HOSTINGS) if dns_mode else {"hosting1": True}
        fault = self._faults["hostings"]
        return hostings if fault == "ok" else {name: fault == "all-available" for name in hostings}

    def _hostings(self, request, _):
        if request.dns_mode:
            url, core = self._url(f"sw.{self.domain}"), self._url(f"co1.{self.domain}")
            (region, region_name), (zone, zone_name) = ("europe", "Europe"), ("switzerland", "Switzerland")
        else:
            url = core = self._url(self.hostname)
            (region, region_name), (zone, zone_name) = ("region1", "region1"), ("zone1", "zone1")
        hostings = {name: {"url": url, "name": name, "description": f"Sandbox hosting {name}", "available": up,
                           "availableCore": core if up else ""}
                    for name, up in self._hosting_availability(request.dns_mode).items()}
        zones = {zone: {"name": zone_name, "hostings": hostings}}
        return json_reply(200, {"regions": {region: {"name": region_name, "zones": zones}}})

    def _service_info(self, request, _):
        fault = self._faults["service-info"]
        # mismatch: the URLs of another platform, as a half-migrated register still serves them
        domain, hostname = (f"old-{self.domain}", f"old-{self.hostname}") if fault == "mismatch" else (
            self.domain, self.hostname)
        if request.dns_mode:
            home, register = self._url(f"sw.{domain}"), self._url(f"reg.{domain}")
            api = self._url("{username}." + domain)
        else:
            home = self._url(hostname)
            register, api = self._url(hostname, "/reg/"), self._url(hostname, "/{username}/")
        info = {"name": "Pryv.io sandbox", "support": home + "support", "terms": home + "terms",
                "access": register + "access/", "api": api, "home": home,
                "eventTypes": "https://pryv.github.io/event-types/flat.json",
                "assets": {"definitions": home + "assets/index.json"},
                "register": register, "version": self._faults["api-version"]}
        if fault == "incomplete":  # a register whose configuration lost its service section's URLs
            del info["api"], info["access"]
        return json_reply(200, info)

    # -- core handlers: (self, request, user)

    def _authorize(self, request, user):
        """The access of the request's token, or Abort with the error core gives."""
        token = request.token()
        if not token:
            raise Abort(api_error(401, "invalid-access-token", MISSING_TOKEN))
        access = next((a for a in user["accesses"] if a["token"] == token), None)
        health_fault = self._faults["token"] if token == self.token else "ok"
        if access is None or health_fault == "rejected":
            raise Abort(api_error(403, "invalid-access-token", "Cannot find access from token."))
        request.access_id = access["id"]
        now = time.time()
        if _expired(access, now) or health_fault == "expired":
            raise Abort(api_error(403, "forbidden", "Access has expired."))
        if access["type"] == "personal":
            if user["sessions"].get(token, 0) <= now:
                raise Abort(api_error(403, "invalid-access-token", "Access session has expired."))
            user["sessions"][token] = now + self.session_ttl
        return access

    def _with_endpoint(self, request, user, access):
        return {**access, "apiEndpoint": self._api_endpoint(request, user["username"], access["token"])}

    def _events(self, request, user):
        access = self._authorize(request, user)
        limit = request.query.get("limit", "20")
        if not (limit.isascii() and limit.isdigit()):
            return invalid_parameters("limit")
        streams = {p["streamId"] for p in access["permissions"] if p["level"] != "create-only"}
        readable = [event for event in user["events"]
                    if access["type"] == "personal" or "*" in streams or streams & set(event["streamIds"])]
        events = sorted(readable, key=lambda event: event["time"], reverse=True)[:int(limit)]
        return json_reply(200, {"events": events, "meta": meta()}, chunked=True)

    def _login(self, request, user):
        body = request.json()
        if not isinstance(body, dict):
            return invalid_parameters(*LOGIN_FIELDS)
        unexpected = sorted(set(body) - set(LOGIN_FIELDS))
        if unexpected:
            return api_error(400, "invalid-operation", f"Unexpected field(s) {', '.join(unexpected)}: the body "
                                                       'must hold exactly "username", "password" and "appId".')
        missing = [name for name in LOGIN_FIELDS if not _is_text(body.get(name), 1, 1000)]
        if missing:
            return invalid_parameters(*missing)
        if not self._trusted_origin(request):
            return api_error(401, "invalid-credentials", UNTRUSTED_APP)
        if (body["username"], body["password"]) != (user["username"], user["password"]):
            return api_error(401, "invalid-credentials", "The given username/password pair is invalid.")
        # like open-pryv.io: a new login from the same app reuses its live session (and extends it)
        now = time.time()
        session = next((a for a in user["accesses"] if a["type"] == "personal" and a["name"] == body["appId"]
                        and user["sessions"].get(a["token"], 0) > now), None)
        if session:
            user["sessions"][session["token"]] = now + self.session_ttl
        else:
            session = self._add_access(user, "personal", body["appId"], [], created_by="system")
        return json_reply(200, {"token": session["token"], "preferredLanguage": user["language"], "meta": meta(),
                                "apiEndpoint": self._api_endpoint(request, user["username"], session["token"])})

    def _trusted_origin(self, request):
        origin = urlsplit(request.headers.get("Origin") or request.headers.get("Referer") or "")
        host = origin.hostname or ""
        if origin.scheme == "https" and (host == self.domain or host.endswith("." + self.domain)):
            return True
        return not request.dns_mode and origin.scheme in ("https", self.scheme) and host == self.hostname

    def _create_access(self, request, user):
        access = self._authorize(request, user)
        if access["type"] not in ("personal", "app"):  # shared accesses cannot create accesses
            return api_error(403, "forbidden", "You cannot access this resource using the given access token.")
        body = request.json()
        body = body if isinstance(body, dict) else {}
        name, permissions = body.get("name"), body.get("permissions")
        kind, device, expire_after = body.get("type", "shared"), body.get("deviceName"), body.get("expireAfter")
        permissions_ok = isinstance(permissions, list) and permissions and all(
            isinstance(p, dict) and isinstance(p.get("streamId"), str) and p.get("level") in PERMISSION_LEVELS
            for p in permissions)
        expiry_ok = expire_after is None or (isinstance(expire_after, (int, float))
                                             and not isinstance(expire_after, bool) and expire_after >= 0)
        bad = [param for param, valid in (("name", _is_text(name, 1, 255)), ("permissions", permissions_ok),
                                          ("type", kind in ("shared", "app")),
                                          ("deviceName", device is None or isinstance(device, str)),
                                          ("expireAfter", expiry_ok)) if not valid]
        if bad:
            return invalid_parameters(*bad)
        if any((a["type"], a["name"], a.get("deviceName")) == (kind, name, device) for a in user["accesses"]):
            return item_exists("access", {"type": kind, "name": name, "deviceName": device})
        expires = None if expire_after is None else time.time() + expire_after
        created = self._add_access(user, kind, name, permissions, access["id"], expires=expires, device_name=device)
        return json_reply(201, {"access": self._with_endpoint(request, user, created), "meta": meta()})

    def _list_accesses(self, request, user):
        access = self._authorize(request, user)
        now, include_expired = time.time(), request.query.get("includeExpired") == "true"
        listed = [self._with_endpoint(request, user, a) for a in user["accesses"]
                  if a["type"] != "personal" and (include_expired or not _expired(a, now))
                  and (access["type"] == "personal" or a["createdBy"] == access["id"])]
        return json_reply(200, {"accesses": listed, "meta": meta()})

    def _access_info(self, request, user):
        access = self._authorize(request, user)
        return json_reply(200, {**access, "user": {"username": user["username"]}, "meta": meta()})

    # -- DNS

    def _dns_answer(self, wire):
        """The wire answer to a DNS query, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not a DNS query: nothing sensible to answer
        with self._lock:
            response = self._dns_response(query, self._faults["dns"])
        if self.verbose:
            question = " ".join(str(q) for q in query.question)
            rcode = "no reply" if response is None else dns.rcode.to_text(response.rcode())
            _log(f"dns {question} -> {rcode}")
        return None if response is None else response.to_wire()

    def _dns_response(self, query, fault):
        if fault == "silent":
            return None
        response = dns.message.make_response(query)
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        if fault in ("servfail", "refused") or not question.name.is_subdomain(self._zone):
            response.set_rcode(dns.rcode.SERVFAIL if fault == "servfail" else dns.rcode.REFUSED)
            return response
        response.flags |= dns.flags.AA
        if fault == "nxdomain":
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif fault == "ok":
            response.answer.extend(self._dns_records(question.name, question.rdtype))
        if not response.answer:
            response.authority.append(self._rrset(self._zone, dns.rdatatype.SOA,
                                                  f"reg.{self.domain}. hostmaster.{self.domain}. "
                                                  f"{SERIAL} 10800 3600 604800 {DNS_TTL}"))
        return response

    def _dns_records(self, name, rdtype):
        labels = name.relativize(self._zone).labels  # () for the zone's apex
        label = labels[0].decode(errors="replace").lower() if len(labels) == 1 else None
        if not labels and rdtype == dns.rdatatype.NS:
            return [self._rrset(name, rdtype, f"reg.{self.domain}.")]
        if not labels or label in INFRA_LABELS:
            return self._addresses(name, rdtype)
        if label and self._user(label) is not None:  # a user: CNAME to its core, then the core's address
            core = dns.name.from_text("co1", self._zone)
            return [self._rrset(name, dns.rdatatype.CNAME, core.to_text()), *self._addresses(core, rdtype)]
        return []

    def _addresses(self, name, rdtype):
        return [self._rrset(name, rdtype, ADDRESSES[rdtype])] if rdtype in ADDRESSES else []

    @staticmethod
    def _rrset(name, rdtype, text):
        return dns.rrset.from_text(name, DNS_TTL, "IN", rdtype, text)

    # -- TLS

    def _tls_context(self):
        import trustme  # only HTTPS needs it: plain-HTTP sandboxes run without

        ca = trustme.CA(organization_name="check_pryv sandbox")
        names = dict.fromkeys([self.domain, f"*.{self.domain}", "localhost", "127.0.0.1", self.hostname])
        expiry = {}
        if self.cert_days is not None:  # UTC, naive, as trustme's own default; valid from trustme's 2000-01-01
            # (Debian 12's trustme 0.9 takes no not_before)
            now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
            expiry = {"not_after": now + datetime.timedelta(days=self.cert_days)}
        certificate = ca.issue_cert(*names, **expiry)
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        return context


SR_ROUTES = {
    ("GET", "/:username/check_username"): Sandbox._sr_check_username,
    ("POST", "/user"): Sandbox._sr_create_user,
    ("POST", "/users"): Sandbox._create_user,
    ("GET", "/hostings"): Sandbox._hostings,
    ("GET", "/service/info"): Sandbox._service_info,
}
DNSLESS_REGISTER_ROUTES = {  # open-pryv.io's: the register's, but for check_username and POST /user
    **SR_ROUTES,
    ("GET", "/:username/check_username"): Sandbox._dnsless_check_username,
    ("POST", "/user"): Sandbox._create_user,
}
CORE_ROUTES = {
    ("GET", "/events"): Sandbox._events,
    ("POST", "/auth/login"): Sandbox._login,
    ("GET", "/accesses"): Sandbox._list_accesses,
    ("POST", "/accesses"): Sandbox._create_access,
    ("GET", "/access-info"): Sandbox._access_info,
}


# ---- servers -----------------------------------------------------------------------------------

class _Server:
    """What the sandbox's socketservers share: a link to the Sandbox, TLS, quiet connection
    errors, and open connections that server_close() cuts."""

    daemon_threads = True

    def __init__(self, address, handler, sandbox, ssl_context=None):
        self.sandbox, self.ssl_context, self.connections = sandbox, ssl_context, set()
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        if not isinstance(request, socket.socket):  # a UDP datagram
            return super().finish_request(request, client_address)
        request.settimeout(CONNECTION_TIMEOUT)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as nginx: no 40 ms Nagle stalls
        if self.ssl_context:  # handshake in this connection's thread, never in the accept loop
            request = self.ssl_context.wrap_socket(request, server_side=True)
        self.connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            self.connections.discard(request)
            self.shutdown_request(request)  # the base class closes the accepted socket, not a TLS wrapper

    def handle_error(self, request, client_address):
        if self.sandbox.verbose:  # clients that hang up or distrust the CA are not our errors
            super().handle_error(request, client_address)

    def server_close(self):
        super().server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):  # the plain socket method: safe on a TLS socket in use
                socket.socket.shutdown(connection, socket.SHUT_RDWR)


class _HTTPServer(_Server, ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's getfqdn(), a reverse DNS lookup
        self.server_name, self.server_port = self.server_address[:2]


class _DNSUDPServer(_Server, socketserver.UDPServer):
    pass


class _DNSTCPServer(_Server, socketserver.ThreadingTCPServer):
    allow_reuse_address = True


class _HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as behind nginx

    def version_string(self):
        return "nginx"  # the Server header of a platform behind nginx

    def _serve(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "Bad Content-Length")
            return
        request = Request(self.command, self.path, self.headers, self.rfile.read(length))
        self._send(self.server.sandbox.handle(request))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def _send(self, reply):
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()  # the status line and headers leave now, before the body
        if self.command == "HEAD":
            return
        if not reply.chunked:
            self.wfile.write(reply.body)
            return
        for start in range(0, len(reply.body), 4096):
            chunk = reply.body[start:start + 4096]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format, *args):
        if self.server.sandbox.verbose:
            super().log_message(format, *args)


class _DNSUDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        answer = self.server.sandbox._dns_answer(data)
        if answer:
            sock.sendto(answer, self.client_address)


class _DNSTCPHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:  # several length-prefixed queries may share a connection
            prefix = self.rfile.read(2)
            if len(prefix) < 2:
                return
            answer = self.server.sandbox._dns_answer(self.rfile.read(int.from_bytes(prefix, "big")))
            if answer:
                self.wfile.write(len(answer).to_bytes(2, "big") + answer)


def _bind_dns(port, sandbox):
    """A UDP and a TCP server on one port; with port 0, retry until a free UDP port is free for TCP too."""
    attempts = 1 if port else 50
    for attempt in range(attempts):
        udp = _DNSUDPServer(("127.0.0.1", port), _DNSUDPHandler, sandbox)
        try:
            return [udp, _DNSTCPServer(("127.0.0.1", udp.server_address[1]), _DNSTCPHandler, sandbox)]
        except OSError:
            udp.server_close()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _write_private(path, text):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)  # open()'s mode only applies to a new file


def _log(message):
    print(f"[sandbox] {message}", file=sys.stderr, flush=True)


# ---- command line ------------------------------------------------------------------------------

PLUGIN_MODULES = {"check_pryv_dns": "check_pryv.check_dns", "check_pryv_register": "check_pryv.check_register",
                  "check_pryv_core": "check_pryv.check_core"}

EPILOG = """\
faults (--fault NAME=VALUE, repeatable; also GET/POST /_sandbox/faults on the HTTP server):
  delay=SECONDS                      every HTTP answer waits that long before its headers
  skew=SECONDS                       the core's clock is off: meta.serverTime shifted by SECONDS
  core=ok|down                       down: every core request gets nginx's 502 HTML page
  token=ok|rejected|expired          the health token: 403 invalid-access-token / 403 forbidden
  account=ok|gone                    the health account no longer exists (register, core, DNS)
  register=ok|failing                every register request gets a 500 internal error
  dns=ok|nxdomain|servfail|refused|empty|silent
                                     empty: NOERROR without answer; silent: no reply at all
  hostings=ok|all-available|none-available
                                     ok: DNS mode hosting1 available, hosting2 not (closed to new
                                     accounts), DNS-less hosting1; the others: every hosting so
  service-info=ok|mismatch|incomplete
                                     mismatch: api and register URLs of another platform (old-DOMAIN,
                                     old-HOSTNAME); incomplete: no api nor access
  api-version=VERSION                the API version reported (header, meta, service info; default
                                     1.9.3-open)

The server certificate lasts until the year 3000; --cert-days DAYS makes it end DAYS days from now
(a negative number: it expired that long ago).

control endpoint (any Host): GET /_sandbox/faults, POST /_sandbox/faults with a JSON object
of faults to change, POST /_sandbox/reset (faults off, data back to the initial account).

examples:
  check_pryv_sandbox                      # HTTPS and DNS on free ports; prints the plugin command lines
  check_pryv_sandbox --fault core=down --fault delay=2
  check_pryv_sandbox --demo               # run every plugin against the sandbox once, then stop
"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="check_pryv_sandbox", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a local stand-in for a Pryv.io platform (register, cores and DNS, on 127.0.0.1) "
                    "with one health account and its access token, to try the check_pryv plugins against. "
                    "Runs until SIGINT (Ctrl-C) or SIGTERM.")
    parser.add_argument("--domain", default="pryv.test", help="platform domain, DNS mode (default: %(default)s)")
    parser.add_argument("--hostname", default="localhost",
                        help="platform host name, DNS-less mode (default: %(default)s)")
    parser.add_argument("--scheme", choices=("https", "http"), default="https",
                        help="https uses a throwaway CA written to STATE_DIR/ca.pem (default: %(default)s)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where the CA and the token file go (default: a new temporary directory)")
    parser.add_argument("--http-port", type=int, default=0, metavar="N",
                        help="HTTP(S) port on 127.0.0.1 (default: 0, any free port)")
    parser.add_argument("--dns-port", type=int, default=0, metavar="N",
                        help="DNS port on 127.0.0.1, UDP and TCP (default: 0, any free port)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME=VALUE",
                        help="start with this fault on (repeatable; see below)")
    parser.add_argument("--cert-days", type=float, metavar="DAYS",
                        help="HTTPS: the server certificate expires DAYS days from now (negative: already "
                             "expired; default: in the year 3000)")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request and DNS query to stderr")
    parser.add_argument("--demo", action="store_true",
                        help="run each plugin command line once against the sandbox, print the results, and "
                             "exit 0 if every plugin exited 0, else 1")
    return parser


def _banner(sandbox):
    base = sandbox._url(sandbox.hostname)
    user_url = sandbox._url(f"{sandbox.username}.{sandbox.domain}", "/events?limit=1")
    cacert = f"--cacert {shlex.quote(sandbox.ca_file)} " if sandbox.ca_file else ""
    lines = [
        f"Pryv.io sandbox for domain {sandbox.domain} ({sandbox.scheme})",
        f"  HTTP server  127.0.0.1:{sandbox.http_port}  register: Host reg.{sandbox.domain}, cores: Host "
        f"USER.{sandbox.domain}; DNS-less: {base}reg/ and {base}USER/",
        f"  DNS server   127.0.0.1:{sandbox.dns_port}  (UDP and TCP), zone {sandbox.domain}",
        *([f"  CA file      {sandbox.ca_file}"] if sandbox.ca_file else []),
        f"  token file   {sandbox.token_file}  (account {sandbox.username}, access metricsAccess)",
        f"  faults       GET/POST {base}_sandbox/faults, POST {base}_sandbox/reset",
        "",
        "Try:",
        f"  dig @127.0.0.1 -p {sandbox.dns_port} {sandbox.username}.{sandbox.domain}",
        f"  TOKEN=$(cat {shlex.quote(sandbox.token_file)})",
        f"  curl {cacert}--resolve {sandbox.username}.{sandbox.domain}:{sandbox.http_port}:127.0.0.1 "
        f"-H \"Authorization: $TOKEN\" '{user_url}'",
        "",
        "Plugin command lines:",
    ]
    for label, argv in sandbox.command_lines():
        lines += [f"  # {label}", f"  {shlex.join(argv)}"]
    return "\n".join([*lines, "", "Stop with Ctrl-C (SIGINT) or SIGTERM."])


def _demo(sandbox):
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    all_ok = True
    for label, argv in sandbox.command_lines():
        command = [sys.executable, "-m", PLUGIN_MODULES[argv[0]], *argv[1:]]
        print(f"== {label}\n$ {shlex.join(command)}", flush=True)
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=30, env=env)
            output, errors, code = done.stdout, done.stderr, done.returncode
        except subprocess.TimeoutExpired:
            output, errors, code = "", "no exit within 30 s\n", None
        print(output.rstrip("\n"))
        if errors.strip():
            print("stderr: " + errors.rstrip("\n").replace("\n", "\nstderr: "))
        print(f"exit code: {code}\n", flush=True)
        all_ok = all_ok and code == 0
    return 0 if all_ok else 1


def _wait_for_signal():
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    faults = {}
    for item in args.fault:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError(f"--fault expects NAME=VALUE, not {item!r}")
            faults[name] = check_fault(name, value)
        except ValueError as error:
            parser.error(str(error))
    with contextlib.ExitStack() as cleanup:
        state_dir = args.state_dir or cleanup.enter_context(tempfile.TemporaryDirectory(prefix="pryv-sandbox-"))
        try:
            sandbox = Sandbox(domain=args.domain, hostname=args.hostname, scheme=args.scheme, state_dir=state_dir,
                              http_port=args.http_port, dns_port=args.dns_port, verbose=args.verbose,
                              cert_days=args.cert_days)
        except ValueError as error:
            parser.error(str(error))
        sandbox.set_faults(**faults)
        try:
            cleanup.enter_context(sandbox)
        except OSError as error:
            parser.exit(1, f"check_pryv_sandbox: cannot start: {error}\n")
        if args.demo:
            return _demo(sandbox)
        print(_banner(sandbox), flush=True)
        _wait_for_signal()
        return 0


if __name__ == "__main__":
    sys.exit(main())
