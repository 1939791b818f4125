"""The Sandbox: one platform's state (accounts, faults), its routing, and the servers it starts and stops."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import time
import traceback

import dns.name

from . import tls
from .core import CORE_ROUTES, METHOD_IDS, USERNAME_RE, Core, integrity, new_id, parse_trusted_apps
from .cores import Cores
from .dns import INFRA_LABELS, Zone
from .faults import DEFAULT_FAULTS, check_fault, fault_name, with_meta_faults
from .messages import (API_VERSION, UNEXPECTED_ERROR, Abort, add_cors, api_error, bad_gateway, json_reply, preflight,
                       root_index, unknown_resource)
from .realtime import Realtime, is_socketio
from .register import DATABASE_DOWN, DNSLESS_REGISTER_ROUTES, SR_ROUTES, Register
from .server import HTTPHandler, HTTPServer, bind_dns
from .attachments import Attachments, attachment_route
from .series import Series, series_route
from .writes import WRITE_ROUTES, Writes, event_route

PLUGINS_DEFAULT_USERNAME = "healthmetrics01"  # the plugins' --username default
HOLD_SECONDS = 600  # the longest a held reply (a hung server: the hfs=hung fault) waits for a reset or a stop


class Sandbox(Register, Core, Writes, Series, Attachments, Cores, Zone, Realtime):
    """A Pryv.io platform on loopback: one HTTP(S) server (register and cores) and one DNS server. Its password
    shares no 8 characters with the username: setup hides any 8 characters of a password wherever they appear."""

    def __init__(self, *, domain="pryv.test", hostname="localhost", scheme="https", state_dir=None,
                 username=PLUGINS_DEFAULT_USERNAME, password="sandbox-Pass-42", http_port=0, dns_port=0,
                 verbose=False, cert_days=None, trusted_apps=None):
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
        self.token = new_id()
        self.session_ttl = 14 * 24 * 3600  # a login session's life, extended on each use
        # the platform's auth.trustedApps: which app ids may sign in from which Origin
        self.trusted_apps = trusted_apps or default_trusted_apps(self.domain, self.hostname, scheme)
        self._trusted_apps = parse_trusted_apps(self.trusted_apps)
        self._zone = dns.name.from_text(self.domain)
        self._lock = threading.RLock()
        self._servers = []
        self._release = threading.Event()  # set to let go of the replies held (hfs=hung) until then
        self._read_token_key = os.urandom(16)  # the platform's auth.filesReadTokenSecret
        self.reset()

    # -- public API

    def start(self):
        if self._servers:
            raise RuntimeError("the sandbox is already running")
        os.makedirs(self.state_dir, exist_ok=True)
        tls_context, ca_pem = self._tls_context() if self.scheme == "https" else (None, None)
        write_state_file(self.token_file, self.token.encode(), 0o600)
        if ca_pem:
            write_state_file(self.ca_file, ca_pem, 0o644)
        servers = []
        try:
            servers.append(HTTPServer(("127.0.0.1", self.http_port), HTTPHandler, self, tls_context))
            servers.extend(bind_dns(self.dns_port, self))
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
        self._let_go()
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
        self._let_go()
        with self._lock:
            self._faults = dict(DEFAULT_FAULTS)
            self._users = {}
            self._access_requests = {}  # app sign-in requests (POST /reg/access) by key
            self._reset_realtime()
            user = self._add_user(self.username, self.password, f"{self.username}@{self.domain}", "en")
            health = self._add_access(user, "shared", "metricsAccess", [{"streamId": "*", "level": "manage"}],
                                      created_by="system", token=self.token)
            now = time.time()
            user["events"] = [
                {"id": new_id(), "time": now - age, "streamIds": ["health"], "type": "note/txt",
                 "content": f"sandbox event {n}", "created": now - age, "createdBy": health["id"],
                 "modified": now - age, "modifiedBy": health["id"]}
                for n, age in ((1, 120), (2, 60))
            ]
            for event in user["events"]:
                event["integrity"] = integrity("EVENT", event)

    def command_lines(self):
        """(label, argv) of the plugin command lines that check this sandbox."""
        port = str(self.http_port)
        tls_args = ["--ca-cert", self.ca_file] if self.scheme == "https" else ["--scheme", "http"]
        token = ["--token-file", self.token_file]
        dns_mode = ["--domain", self.domain, "--address", "127.0.0.1", "--port", port, *tls_args]
        dnsless = ["--hostname", self.hostname, "--port", port, *tls_args]
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

    def platform_command_lines(self):
        """(label, argv) of the check_pryv_platform lines that check this sandbox: every check at once. In DNS mode
        its hosting2 is closed to new accounts (a WARNING of the hostings check): that line leaves hostings out."""
        tls_args = ["--ca-cert", self.ca_file] if self.scheme == "https" else ["--scheme", "http"]
        common = ["--port", str(self.http_port), *tls_args, "--token-file", self.token_file]
        if self.username != PLUGINS_DEFAULT_USERNAME:
            common += ["--username", self.username]
        checks = ["dns", "register", "service-info", "core", "write"] + ["certificate"] * (self.scheme == "https")
        return [("platform, DNS-less", ["check_pryv_platform", "--hostname", self.hostname, *common]),
                ("platform, DNS mode", ["check_pryv_platform", "--domain", self.domain, "--address", "127.0.0.1",
                                        "--dns-server", "127.0.0.1", "--dns-port", str(self.dns_port), *common,
                                        "--checks", ",".join(checks)])]

    def _let_go(self):
        """Send the replies held so far (hfs=hung): a reset or a stop ends the hang."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()

    def handle(self, request):
        """The Reply to one HTTP request; never raises."""
        try:
            with self._lock:
                release = self._release  # the one the reset or stop after this request sets
                reply = self._route(request)
        except Abort as abort:
            reply = abort.reply
        except Exception:
            traceback.print_exc()
            reply = api_error(500, "unexpected-error", "Unexpected error")
        if request.changed and reply.status < 300:  # socket.io's clients hear of it, outside the lock
            self.notify(*request.changed)
        if reply.hold:  # outside the lock: the other calls go on
            release.wait(HOLD_SECONDS)
        if request.access_id:
            reply.headers["Pryv-Access-Id"] = request.access_id
        if request.v2 and "API-Version" in reply.headers:  # the application's own answers, not nginx's
            add_cors(reply, request)
        faults = self.faults
        if not request.path.startswith("/_sandbox/"):  # the control endpoint is neither rewritten nor delayed
            if faults["skew"] or faults["api-version"] != API_VERSION:
                with_meta_faults(reply, faults["skew"], faults["api-version"])
            time.sleep(faults["delay"])
        return reply

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
        if is_socketio(request.path):  # on every host, before the routes, as engine.io takes it
            return self.socketio_reply(request.query.get("transport"))
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
        request.v2 = True  # DNS-less, the host's root is v2's
        if request.method == "OPTIONS":
            return preflight()
        return root_index(request) if request.route_method == "GET" else unknown_resource()

    def _register(self, request, path, dns_mode):
        request.dns_mode, request.v2 = dns_mode, not dns_mode  # DNS mode: service-register
        if request.v2 and request.method == "OPTIONS":
            return preflight()
        if self._faults["register"] == "failing":
            if dns_mode:
                return json_reply(500, {"id": "INTERNAL_ERROR", "message": "Internal error"})
            return api_error(500, "unexpected-error", "Unexpected error")
        route, name = "/" + path.strip("/"), None
        if route.endswith("/check_username") and route.count("/") == 2:
            route, name = "/:username/check_username", route.split("/")[1]
        elif route.startswith("/access/") and route.count("/") == 2:
            route, name = "/access/:key", route.split("/")[2]
        # the health account's name is in v2's cache of the names it found, which never expires
        if self._faults["database"] == "down" and route == "/:username/check_username" and name != self.username:
            return self._database_failure(request, DATABASE_DOWN)
        handler = (SR_ROUTES if dns_mode else DNSLESS_REGISTER_ROUTES).get((request.route_method, route))
        return handler(self, request, name) if handler else unknown_resource()

    def _core(self, request, username, path, dns_mode):
        request.dns_mode, request.v2 = dns_mode, True
        if self._faults["core"] == "down":
            return bad_gateway()
        route = "/" + path.strip("/")
        if request.method == "OPTIONS":  # answered before any route (middleware/src/commonHeaders.ts)
            return preflight()
        if (request.route_method, route) == ("GET", "/"):  # before the user is looked up (routes/root.ts)
            return root_index(request)
        if self._faults["database"] == "down":
            return api_error(500, "unexpected-error", UNEXPECTED_ERROR)
        user = self._user(username)
        if self._core_down(user):
            return bad_gateway()
        if user is None:
            return api_error(404, "unknown-resource", f'Unknown user "{username}"')
        key = (request.route_method, route)
        handler = CORE_ROUTES.get(key)
        if handler:
            reply = handler(self, request, user)
            if reply.status < 400 and request.access_id:
                self._count_call(user, request.access_id, METHOD_IDS[key])
            return reply
        handler = WRITE_ROUTES.get(key)
        if handler:
            request.changed = (username, "streamsChanged" if route == "/streams" else "eventsChanged")
            return handler(self, request, user)
        event = event_route(request.route_method, route)
        if request.route_method != "GET" and (event or attachment_route(request.route_method, route)):
            request.changed = (username, "eventsChanged")  # an event, or its attachments, changed
        by_id = event or series_route(request.route_method, route)
        if by_id:
            return by_id[0](self, request, user, by_id[1])
        file_route = attachment_route(request.route_method, route)
        return file_route[0](self, request, user, *file_route[1:]) if file_route else unknown_resource()

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

    # -- TLS

    def _tls_context(self):
        names = dict.fromkeys([self.domain, f"*.{self.domain}", "localhost", "127.0.0.1", self.hostname])
        return tls.server_context(names, self.cert_days)


def default_trusted_apps(domain, hostname, scheme):
    """Any app from https://DOMAIN, https://*.DOMAIN and the DNS-less host (over the sandbox's scheme too), with
    any port or path."""
    bases = [f"https://{domain}", f"https://*.{domain}", f"https://{hostname}"]
    if scheme == "http":
        bases.append(f"http://{hostname}")
    return ", ".join(f"*@{base}{tail}" for base in bases for tail in ("", ":*", "/*"))


class StateFileError(OSError):
    """A state file the sandbox will not write: something other than its own regular file is in the way."""


def write_state_file(path, data, mode):
    """Write `data` to a new file at `path`, never through a link: a regular file left by an earlier run
    is replaced (its name unlinked, so a hard link's other names keep their content), anything else is
    refused with a StateFileError."""
    for _ in range(2):
        try:  # O_EXCL|O_NOFOLLOW: a symbolic link, even one to nowhere, makes this fail instead of followed
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except FileExistsError:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                raise StateFileError(f"{path} is a symbolic link: the sandbox never writes through a link; "
                                     "remove it or choose another --state-dir") from None
            if not stat.S_ISREG(info.st_mode):
                raise StateFileError(f"{path} is in the way and is not a regular file; remove it or choose "
                                     "another --state-dir") from None
            os.unlink(path)  # an earlier run's file: replaced by a new one, not rewritten in place
            continue
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        return
    raise StateFileError(f"{path} keeps reappearing while the sandbox writes it; is another sandbox using "
                         "this --state-dir?")
