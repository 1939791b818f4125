"""The real Pryv.io server (open-pryv.io v2) on loopback, behind a TLS front, for the tests.

Session fixture ``real_server`` (hooked in conftest.py). It starts, in a private directory:

- a PostgreSQL cluster of its own (initdb, ``postgres`` on a free 127.0.0.1 port; run as ``nobody`` when the
  tests run as root, since PostgreSQL refuses root),
- the server, built beforehand by ``.ci/real-server-build`` into ``$CHECK_PRYV_REAL_SERVER`` (default
  ``build/real-server`` in the repo): ``NODE_ENV=production node bin/master.js --config FILE``, DNS-less, one API
  worker, plain HTTP on a free port, e-mails off, event types from a file of the snapshot,
- Debian's nginx as the TLS front, with a certificate for 127.0.0.1 and localhost from a throwaway ``trustme`` CA.

It yields a ``RealServer`` whose interface other tests rely on (keep it stable):

- ``hostname`` ("127.0.0.1"), ``https_port`` (nginx), ``ca_file`` (the CA's PEM), ``public_url``
  (``https://127.0.0.1:PORT/``, the server's ``dnsLess.publicUrl``), ``cert_not_after`` (the UTC expiry of nginx's
  certificate, CERT_DAYS days after the start),
- ``http_port`` / ``http_url`` (the plain backend, ``http://127.0.0.1:PORT/``), ``admin_key``, ``trusted_origin``
  (an Origin that ``auth.trustedApps`` accepts), ``untrusted_origin`` (one it refuses),
- ``request(method, path, **kwargs)``: a ``requests`` call to the HTTPS front (``path`` relative to the root,
  CA checked), ``backend_request(...)``: the same to the plain backend,
- ``delete_user(username)``: ``DELETE /users/USERNAME`` with the admin key; returns the response,
- ``sign_in(username, password, app_id="pryv-metrics")``: ``POST /USERNAME/auth/login`` with the trusted Origin;
  returns the personal (session) token,
- ``stop_backend()`` / ``start_backend()``: stop or restart the server alone, nginx staying up (tests of a 502),
- ``hfs_stopped()``: a context manager during which the HFS worker (the server runs one, ``cluster.hfsWorkers: 1``,
  on ``hfs_port``; the API worker proxies ``/USER/events/ID/series`` to it) is stopped with SIGSTOP, as a hung
  worker is: the series calls get no answer; SIGCONT after,
- ``attachments_replaced_by_file(username)``: a context manager during which the user's attachments directory
  (``<storages.engines.sqlite.path>/<shard>/<user id>/attachments``) is a file, as when the file storage is gone:
  uploads answer ``500 unexpected-error`` (``ENOTDIR``); the directory is back after,
- ``stop_database()`` / ``start_database()``: stop or restart its PostgreSQL alone (the server reconnects),
- ``dnsless_args(port=None)``: the plugins' connection options for the HTTPS front (``--hostname --port --ca-cert``),
  or for the front on ``port``,
- ``no_upgrade_port``: a second front on the same nginx that answers every WebSocket upgrade with 400 and passes
  the rest (REST stays 200 while socket.io breaks); the main front passes upgrades,
- ``log_tail()``: the last lines of the server's, nginx's and PostgreSQL's logs,
- ``domain`` ("pryv.test") and ``dns_mode_args()`` (``--domain --address 127.0.0.1 --port --ca-cert``): DNS mode as
  the plugins see it. The server cannot run DNS mode with PostgreSQL as its platform DB (its config validation
  refuses it), so nginx maps ``reg.DOMAIN/X`` to ``/reg/X`` and ``USER.DOMAIN/X`` to ``/USER/X``, the routing that
  the server does itself in DNS mode, and rewrites the poll URL of ``reg.DOMAIN/access``'s answer to the core's
  own host ``single.DOMAIN`` (passed through as is), as the server writes it in DNS mode; the certificate covers
  ``DOMAIN`` and ``*.DOMAIN``.

Session fixture ``real_dns`` (also in conftest.py): the server's own DNS code (``components/dns-server``) run by
``tests/realserver_dns.js`` beside the DNS-less core, on the same PostgreSQL, answering ``USER.DOMAIN`` with
127.0.0.1 for the accounts the core hosts. It yields a ``RealDns`` with ``domain``, ``port`` (UDP only on 127.0.0.1:
the server's DNS does not listen on TCP) and ``log_tail()``.

When the server is not built, a binary is missing or something does not start, the fixture calls conftest's
``cannot()`` with the reason and the logs' tail: skip on a laptop, fail in CI (CHECK_PRYV_REQUIRE_DAEMONS=1).
Everything it started is stopped at the end of the session and its directory removed.
"""
import contextlib
import datetime
import glob
import json
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import requests

from daemons import HOST, Daemon, free_ports

REPO = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("CHECK_PRYV_REAL_SERVER") or REPO / "build" / "real-server")
CERT_DAYS = 20  # nginx's certificate: far enough from expiry to be OK by default, near enough to test the limits
START_TIMEOUT = 60  # seconds; the server is ready in about 3 s on an idle machine, far more on a loaded CI one


class StartError(Exception):
    """A part of the real platform did not start; the message says which and why."""


def postgres_bin(name):
    """A PostgreSQL server binary: on PATH, or in Debian's versioned directory (not on PATH)."""
    found = shutil.which(name) or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name), reverse=True)),
                                       None)
    if not found:
        raise StartError("%s is not installed (Debian: postgresql-15)" % name)
    return found


def wait_until(ready, daemon, what, timeout=START_TIMEOUT):
    """Poll ready() until true; fail with the daemon's log tail when it exits or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.proc.poll() is not None:
            raise StartError("%s exited with %s at start-up:\n%s" % (what, daemon.proc.returncode, daemon.log_tail()))
        if ready():
            return
        time.sleep(0.2)
    raise StartError("%s was not ready after %d s:\n%s" % (what, timeout, daemon.log_tail()))


def answers(url, **kwargs):
    """True when url answers at all (any status)."""
    try:
        requests.get(url, timeout=2, **kwargs)
        return True
    except requests.RequestException:
        return False


class Postgres(Daemon):
    """A private PostgreSQL cluster on 127.0.0.1:port, trust authentication, role and database `pryv`."""

    def __init__(self, work, port):
        self.work, self.port, self.data = work, port, work / "data"
        self.demote = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its files and processes belong to nobody
            nobody = pwd.getpwnam("nobody")
            os.chown(work, nobody.pw_uid, nobody.pw_gid)
            self.demote = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid, "--clear-groups",
                           "--"]

    def run(self, argv):
        done = subprocess.run(self.demote + argv, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise StartError("%s failed: %s" % (os.path.basename(argv[0]), (done.stderr or done.stdout).strip()))

    def start(self):
        self.run([postgres_bin("initdb"), "-D", str(self.data), "-U", "pryv", "--auth=trust", "-E", "UTF8",
                  "--no-instructions", "--no-sync"])
        self.resume()
        self.run([postgres_bin("createdb"), "-h", HOST, "-p", str(self.port), "-U", "pryv", "pryv"])

    def resume(self):
        """Start the server on the cluster made by start() (again, after stop())."""
        self.spawn(self.demote + [postgres_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
                                  "-c", "listen_addresses=" + HOST, "-c", "unix_socket_directories=" + str(self.work),
                                  "-c", "fsync=off"])
        wait_until(self.ready, self, "PostgreSQL")

    def ready(self):
        return subprocess.run([postgres_bin("pg_isready"), "-q", "-h", HOST, "-p", str(self.port)],
                              stdin=subprocess.DEVNULL).returncode == 0


class Core(Daemon):
    """The open-pryv.io server, DNS-less, plain HTTP on 127.0.0.1:port."""

    def __init__(self, work, port, config):
        self.work, self.port, self.config = work, port, config

    def start(self):
        source = BUILD / "open-pryv.io"
        config_file = self.work / "config.json"
        config_file.write_text(json.dumps(self.config, indent=2))
        node = BUILD / "node" / "bin" / "node"
        # Run from the server's root (env -C): it resolves its default config and plugins from there.
        self.spawn(["env", "-C", str(source), "NODE_ENV=production",
                    "PATH=%s:%s" % (node.parent, os.environ.get("PATH", "")),
                    str(node), "bin/master.js", "--config", str(config_file)])
        wait_until(lambda: answers("http://%s:%d/" % (HOST, self.port)), self, "The Pryv.io server")


class Nginx(Daemon):
    """Debian's nginx in the foreground with its own prefix: TLS on 127.0.0.1:port, proxy to the backend."""

    logs = ("daemon.log", "error.log")

    def __init__(self, work, port, backend_port, certificate, key, ca_file, domain, no_upgrade_port):
        self.work, self.port, self.ca_file = work, port, ca_file
        self.conf = """daemon off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
{user}
events {{ worker_connections 64; }}
http {{
    access_log {w}/access.log;
    client_body_temp_path {w}/client_body; proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi; uwsgi_temp_path {w}/uwsgi; scgi_temp_path {w}/scgi;
    ssl_certificate {certificate};
    ssl_certificate_key {key};
    proxy_set_header Host $http_host;
    # WebSocket upgrades (socket.io) pass, as a platform's front must let them
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    server {{
        listen {host}:{port} ssl default_server;
        location / {{ proxy_pass http://{host}:{backend}; }}
    }}
    # A front that answers WebSocket upgrades with 400 and passes every other call: REST works, realtime does not.
    server {{
        listen {host}:{no_upgrade_port} ssl default_server;
        location / {{
            if ($http_upgrade) {{ return 400; }}
            proxy_pass http://{host}:{backend};
        }}
    }}
    # DNS mode's host names, mapped to the DNS-less paths as the server itself maps them in DNS mode.
    server {{
        listen {host}:{port} ssl;
        server_name reg.{domain};
        location / {{ proxy_pass http://{host}:{backend}/reg$request_uri; }}
        # an app sign-in request's poll URL, as the server in DNS mode writes it: on its core's own host,
        # https://CORE-ID.DOMAIN/reg/access/KEY (routes/reg/access.ts, config/plugins/core-identity.js)
        proxy_set_header Host $http_host;
        proxy_set_header Accept-Encoding "";
        sub_filter_types application/json;
        sub_filter_once off;
        sub_filter '"https://{host}:{port}/reg/access/' '"https://single.{domain}:{port}/reg/access/';
    }}
    server {{
        listen {host}:{port} ssl;
        server_name single.{domain};
        location / {{ proxy_pass http://{host}:{backend}; }}
    }}
    server {{
        listen {host}:{port} ssl;
        server_name ~^(?<pryv_user>[a-z0-9-]+)\\.{domain_re}$;
        location / {{ proxy_pass http://{host}:{backend}/$pryv_user$request_uri; }}
        # socket.io is served at the root of every host: the server takes /socket.io/ before its routes
        location /socket.io/ {{ proxy_pass http://{host}:{backend}; }}
    }}
}}
""".format(w=work, host=HOST, port=port, backend=backend_port, certificate=certificate, key=key, domain=domain,
           domain_re=domain.replace(".", "\\."), no_upgrade_port=no_upgrade_port,
           user="user root;" if os.geteuid() == 0 else "")  # the workers must reach the private directory

    def start(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(nginx, os.X_OK):
            raise StartError("nginx is not installed (Debian: nginx-light)")
        (self.work / "nginx.conf").write_text(self.conf)
        self.spawn([nginx, "-p", str(self.work), "-c", str(self.work / "nginx.conf"), "-e", str(self.work / "error.log")])
        wait_until(lambda: answers("https://%s:%d/" % (HOST, self.port), verify=self.ca_file), self, "nginx")


class RealServer:
    """The running platform: see the module's docstring for the interface."""

    hostname = HOST
    domain = "pryv.test"

    def __init__(self, base):
        self.base = base
        self.https_port, self.http_port, self.hfs_port, pg_port, self.no_upgrade_port = free_ports(5)
        self.public_url = "https://%s:%d/" % (HOST, self.https_port)
        self.http_url = "http://%s:%d/" % (HOST, self.http_port)
        self.admin_key = secrets.token_hex(16)
        self.trusted_origin = "https://" + HOST  # check_pryv_setup's default Origin in DNS-less mode
        self.untrusted_origin = "https://untrusted.example"
        self.ca_file = str(base / "ca.pem")
        for part in ("postgres", "core", "nginx"):
            (base / part).mkdir()
        self.postgres = Postgres(base / "postgres", pg_port)
        self.core = Core(base / "core", self.http_port, self.server_config(pg_port))
        certificate, key = self.make_certificate()
        self.nginx = Nginx(base / "nginx", self.https_port, self.http_port, certificate, key, self.ca_file,
                           self.domain, self.no_upgrade_port)

    def make_certificate(self):
        import trustme
        ca = trustme.CA(organization_name="check_pryv real-server tests")
        ca.cert_pem.write_to_path(self.ca_file)
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)  # naive UTC, as trustme
        self.cert_not_after = now + datetime.timedelta(days=CERT_DAYS)
        # no not_before: Debian's trustme 0.9 lacks it (its default start, 2000, is fine)
        issued = ca.issue_cert(HOST, "localhost", self.domain, "*." + self.domain, not_after=self.cert_not_after)
        chain, key = self.base / "nginx" / "server.pem", self.base / "nginx" / "server.key"
        chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(key))
        return chain, key

    def server_config(self, pg_port):
        data = self.base / "core"
        event_types = BUILD / "open-pryv.io" / "test" / "event-types-flat.json"
        return {
            "dnsLess": {"isActive": True, "publicUrl": self.public_url},
            # the HFS worker listens on hfsPort; the API worker proxies /USER/events/ID/series to it (hfsIngress.ts)
            "http": {"ip": HOST, "port": self.http_port, "hfsPort": self.hfs_port},
            "cluster": {"apiWorkers": 1, "hfsWorkers": 1, "previewsWorker": False},
            "storages": {
                "base": {"engine": "postgresql"}, "platform": {"engine": "postgresql"},
                "series": {"engine": "postgresql"}, "audit": {"engine": "sqlite"},
                "engines": {
                    "postgresql": {"host": HOST, "port": pg_port, "database": "pryv", "user": "pryv",
                                   "password": ""},
                    "sqlite": {"path": str(data / "users")},
                    "filesystem": {"previewsDirPath": str(data / "previews")},
                },
            },
            "auth": {"adminAccessKey": self.admin_key, "filesReadTokenSecret": secrets.token_hex(16),
                     "ssoCookieSignSecret": secrets.token_hex(16),
                     "trustedApps": "*@%s*" % self.trusted_origin},  # any port, as production's *@https://*.DOMAIN*
            "platform": {"piiHmacKey": secrets.token_urlsafe(32)},
            "service": {"name": "check_pryv real-server tests", "serial": "t1", "home": self.public_url,
                        "support": self.public_url + "support", "terms": self.public_url + "terms",
                        "eventTypes": event_types.as_uri()},
            "services": {"email": {"enabled": False}},
            "logs": {"console": {"active": True, "level": "info", "colorize": False}, "file": {"active": False}},
        }

    def start(self):
        for part in (self.postgres, self.core, self.nginx):
            part.start()

    def stop(self):
        for part in (self.nginx, self.core, self.postgres):
            part.stop()

    def stop_backend(self):
        self.core.stop()

    def stop_database(self):
        self.postgres.stop()

    def start_database(self):
        self.postgres.resume()

    def start_backend(self):
        self.core.start()

    def hfs_worker_pid(self):
        """The pid of the server's HFS worker: the master's child that master.js forked with PRYV_WORKER_TYPE=hfs."""
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                ppid = int(pathlib.Path(stat).read_text().rsplit(")", 1)[1].split()[1])
                environ = (pathlib.Path(stat).parent / "environ").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
            if ppid == self.core.proc.pid and b"PRYV_WORKER_TYPE=hfs" in environ:
                return int(pathlib.Path(stat).parent.name)
        raise StartError("no HFS worker among the server's processes:\n" + self.core.log_tail())

    @contextlib.contextmanager
    def hfs_stopped(self):
        pid = self.hfs_worker_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            yield pid
        finally:
            os.kill(pid, signal.SIGCONT)

    def user_id(self, username):
        """The user's id (the name of its directory), from the server's PostgreSQL."""
        done = subprocess.run([postgres_bin("psql"), "-tA", "-h", HOST, "-p", str(self.postgres.port), "-U", "pryv",
                               "-d", "pryv", "-c", "SELECT user_id FROM users_index WHERE username = '%s'" % username],
                              check=True, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        return done.stdout.strip()

    @contextlib.contextmanager
    def attachments_replaced_by_file(self, username):
        user_id = self.user_id(username)
        # the server's user directories: <sqlite path>/<last, second last, third last character of the id>/<id>
        directory = self.base / "core" / "users" / user_id[-1] / user_id[-2] / user_id[-3] / user_id / "attachments"
        moved = directory.with_name("attachments.moved")
        directory.mkdir(exist_ok=True)
        directory.rename(moved)
        directory.write_text("not a directory\n")
        try:
            yield directory
        finally:
            directory.unlink()
            moved.rename(directory)

    def log_tail(self):
        return "".join("--- %s\n%s" % (name, part.log_tail()) for name, part in
                       (("server", self.core), ("nginx", self.nginx), ("postgres", self.postgres)))

    def dns_mode_args(self):
        return ["--domain", self.domain, "--address", HOST, "--port", str(self.https_port), "--ca-cert", self.ca_file]

    def dnsless_args(self, port=None):
        """`port`: another front's (no_upgrade_port), the HTTPS front's by default."""
        return ["--hostname", self.hostname, "--port", str(port or self.https_port), "--ca-cert", self.ca_file]

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.public_url + path.lstrip("/"), verify=self.ca_file, **kwargs)

    def backend_request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.http_url + path.lstrip("/"), **kwargs)

    def delete_user(self, username):
        return self.request("DELETE", "users/" + username, headers={"Authorization": self.admin_key})

    def sign_in(self, username, password, app_id="pryv-metrics"):
        answer = self.request("POST", username + "/auth/login", headers={"Origin": self.trusted_origin},
                              json={"username": username, "password": password, "appId": app_id})
        answer.raise_for_status()
        return answer.json()["token"]


@contextlib.contextmanager
def running_real_server(cannot):
    """Start the real platform in a private directory; stop it and remove the directory on exit."""
    if not (BUILD / ".built").is_file():
        cannot("the real Pryv.io server is not built in %s: run .ci/real-server-build (CHECK_PRYV_REAL_SERVER "
               "names the directory)" % BUILD)
    # Not under pytest's tmp_path: that is private to root, and PostgreSQL and nginx's workers run as nobody.
    base = pathlib.Path(tempfile.mkdtemp(prefix="check-pryv-real-server-"))
    os.chmod(base, 0o755)
    server = None
    try:
        server = RealServer(base)
        try:
            server.start()
        except StartError as error:
            cannot("the real Pryv.io server could not start: %s" % error)
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


class RealDns(Daemon):
    """The server's DNS code beside the core (tests/realserver_dns.js): see the module's docstring."""

    def __init__(self, work, server):
        self.work, self.domain, self.server = work, server.domain, server
        self.port = free_ports(1, udp=True)[0]

    def start(self):
        config = dict(self.server.core.config, dns={"domain": self.domain, "ip": HOST, "port": self.port},
                      core={"ip": HOST})  # the address this core's users resolve to
        config_file = self.work / "config.json"
        config_file.write_text(json.dumps(config, indent=2))
        node = BUILD / "node" / "bin" / "node"
        self.spawn(["env", "-C", str(BUILD / "open-pryv.io"), str(node), str(pathlib.Path(__file__).with_name(
            "realserver_dns.js")), ".", "--config", str(config_file)])
        wait_until(lambda: "DNS ready" in self.log_tail(), self, "The Pryv.io DNS")


@contextlib.contextmanager
def running_real_dns(server, cannot):
    """The server's own DNS beside the running core; stopped on exit."""
    (server.base / "dns").mkdir(exist_ok=True)
    dns = RealDns(server.base / "dns", server)
    try:
        try:
            dns.start()
        except StartError as error:
            cannot("the real Pryv.io DNS could not start: %s" % error)
        yield dns
    finally:
        dns.stop()
