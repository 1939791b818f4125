"""The thin Pryv.io client the plugins share.

It knows the platform's URLs in DNS mode and DNS-less mode, makes one HTTP(S) call that honours the
plugin's deadline, names the stage at which a call failed, and reads Pryv's two error body shapes.
"""
import contextlib
import http.client
import json
import re
import socket
import _thread
import ssl
import time
import ipaddress
from urllib.parse import quote

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, InvalidChunkLength

from check_pryv import secret
from check_pryv.deadline import DeadlineExceeded
from check_pryv.output import one_line  # the one filter of server text (also for register_info, write)

# An events?limit=1 answer is a few hundred bytes: anything much larger is not the API talking.
BODY_CAP = 1024 * 1024
USER_AGENT = "check_pryv"
DEFAULT_PORT = {"https": 443, "http": 80}
REDIRECTS = (300, 301, 302, 303, 307, 308)
# OpenSSL's reasons when the other end does not speak TLS at all.
NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST",
           "UNKNOWN_PROTOCOL"}


class TransportError(Exception):
    """The platform was not reached or did not answer completely; `stage` says where it stopped."""

    WHAT = {
        "resolve": "cannot resolve {host}",
        "connect": "cannot connect to {endpoint}",
        "TLS": "TLS handshake with {endpoint} failed",
        "proxy": "proxy {endpoint}",
        "response": "no answer from {endpoint}",
        "body": "answer from {endpoint} incomplete",
    }

    def __init__(self, stage, url, host, port, address, reason, elapsed, certificate=None, proxy=None):
        self.stage, self.url, self.address = stage, url, address
        self.elapsed, self.certificate = elapsed, certificate or []
        if proxy and stage in ("resolve", "connect", "proxy"):  # --proxy: these stages are the proxy's
            name = proxy[0] if stage == "proxy" else "proxy " + proxy[0]
            endpoint = "%s:%s" % (name, proxy[1]) + (" (%s)" % address if address and address != proxy[0] else "")
        elif proxy:  # the platform, through the proxy's tunnel
            name, endpoint = host, "%s:%s (through proxy %s:%s)" % (host, port, *proxy)
        else:
            name, endpoint = host, "%s:%s" % (host, port) + (" (%s)" % address if address and address != host else "")
        super().__init__("%s: %s" % (self.WHAT[stage].format(host=name, endpoint=endpoint), reason))

    def details(self):
        return ["url: %s" % self.url, "failed at stage: %s" % self.stage, "address: %s" % (self.address or "none"),
                "after: %.3fs" % self.elapsed] + self.certificate


class Target:
    """Where the platform's register and cores are, in DNS mode (a domain) or DNS-less mode (a hostname)."""

    def __init__(self, domain=None, hostname=None, scheme="https", port=None):
        self.domain, self.hostname, self.scheme = domain, hostname, scheme
        self.port = port or DEFAULT_PORT[scheme]

    def _url(self, host, path):
        netloc = host if self.port == DEFAULT_PORT[self.scheme] else "%s:%d" % (host, self.port)
        return "%s://%s%s" % (self.scheme, netloc, path)

    def register_url(self, path):
        """`reg.DOMAIN/path` in DNS mode, `HOSTNAME/reg/path` DNS-less."""
        if self.domain:
            return self._url("reg." + self.domain, "/" + path)
        return self._url(self.hostname, "/reg/" + path)

    def core_url(self, username, path):
        """`USER.DOMAIN/path` in DNS mode, `HOSTNAME/USER/path` DNS-less."""
        if self.domain:
            return self._url(username + "." + self.domain, "/" + path)
        return self._url(self.hostname, "/%s/%s" % (quote(username), path))

    def api_template(self):
        """The API URL as service/info writes it: `https://{username}.DOMAIN/`, `https://HOSTNAME/{username}/`."""
        if self.domain:
            return self._url("{username}." + self.domain, "/")
        return self._url(self.hostname, "/{username}/")


class Answer:
    """A complete HTTP answer, as the plugins judge it."""

    def __init__(self, url, status, reason, headers, body, elapsed, address, capped, peer_certificate=None,
                 phases=None):
        self.url, self.status, self.reason, self.headers = url, status, reason, headers
        self.phases = phases or {}  # check_http -E's phases of the call (_Call.phases)
        self.body, self.elapsed, self.address, self.capped = body, elapsed, address, capped
        self.peer_certificate = peer_certificate  # DER, as the TLS handshake of this very request got it
        self.received_at = time.time()
        self._json = False

    @property
    def json(self):
        """The body as JSON, or None when it is not JSON."""
        if self._json is False:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested deeper than Python goes
                self._json = None
        return self._json

    @property
    def _meta(self):
        """The body's `meta` object, or an empty one."""
        meta = self.json.get("meta") if isinstance(self.json, dict) else None
        return meta if isinstance(meta, dict) else {}

    @property
    def api_version(self):
        version = self._meta.get("apiVersion") or self.headers.get("API-Version")
        return one_line(version, 40) if version else None

    @property
    def server_time(self):
        """`meta.serverTime` (seconds since the epoch), or None."""
        value = self._meta.get("serverTime")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and -1e15 < value < 1e15:
            return float(value)  # NaN, infinities and absurd values are no clock (and no valid perfdata)
        return None

    @property
    def pryv_error(self):
        """(id, message) from `{"error": {...}}` (core, DNS-less register) or a flat `{"id": ...}` (register)."""
        body = self.json
        if not isinstance(body, dict):
            return None
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        if not isinstance(error.get("id"), str):
            return None
        message = error.get("message")
        if not message and isinstance(error.get("data"), dict):  # wrong-core tells where to go only there
            message = ", ".join("%s: %s" % item for item in error["data"].items())
        # a server's sentence loses its full stop: it is one clause of the status line (`...: Access has expired; ...`)
        return one_line(error["id"], 40), one_line(str(message or "").strip().rstrip("."), 120)

    def problem(self):
        """What is wrong with an answer that is not the expected one, in a few words."""
        if self.status in REDIRECTS:
            if not self.headers.get("Location"):
                return "%d redirect without a Location" % self.status
            return "%d redirect to %s (not followed)" % (self.status, one_line(self.headers["Location"], 100))
        if self.status == 304:  # the request had no condition: nothing it could be "not modified" from
            return "304 Not Modified to a request that asked for no cached copy"
        if self.capped:
            return "%d with a body over %d bytes (stopped reading)" % (self.status, BODY_CAP)
        error = self.pryv_error
        if error:
            return "%d %s" % (self.status, error[0]) + (": " + error[1] if error[1] else "")
        return "%d %s" % (self.status, self.body_excerpt())

    def body_excerpt(self, length=60):
        """An HTML page's title, or the start of any other body, on one line."""
        text = secret.scrub(self.body.decode("utf-8", "replace"))[:4096]  # scrubbed whole, then cut
        title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
        if title:
            return "HTML page '%s'" % one_line(title.group(1), length)
        if not text.strip():
            return "with an empty body"
        return "'%s'" % one_line(text, length)

    def details(self):
        """Long output lines: what an operator needs to act."""
        lines = ["url: %s" % self.url,
                 "connected to: %s" % self.address,
                 "status: %d %s" % (self.status, one_line(self.reason, 60)),
                 "time: %.3fs" % self.elapsed]
        if self.headers.get("Location"):
            lines.append("location: %s" % one_line(self.headers["Location"], 200))
        if self.capped:
            lines.append("body: more than %d bytes, not read further" % BODY_CAP)
        else:
            lines.append("body: %d bytes" % len(self.body) + (", " + self.body_excerpt() if self.body.strip() else ""))
        if self.api_version:
            lines.append("API version: %s" % self.api_version)
        if self.server_time is not None:
            lines.append("server time: %s" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.server_time)))
        return lines


class _Call:
    """The state of the one call in progress, shared with the connection classes below."""

    def __init__(self, addresses, deadline, started, proxy=None):
        self.addresses, self.deadline, self.proxy = addresses, deadline, proxy
        self.stage = "connect"
        self.address = None
        self.certificate = None  # the server's certificate (DER), once the TLS handshake is done
        self.marks = {"start": started}  # when each phase of the call ended (time.monotonic()), for Answer.phases

    def mark(self, phase):
        self.marks[phase] = time.monotonic()

    # check_http -E's phases, each from the end of the one before: (perfdata label, the mark that ends it)
    PHASES = (("time_resolve", "resolve"), ("time_connect", "connect"), ("time_connect", "proxy"),
              ("time_ssl", "TLS"), ("time_headers", "sent"), ("time_firstbyte", "headers"))

    def phases(self, ended):
        """{label: seconds} of the phases the call went through, time_transfer last: they add up to its time.
        With a proxy, time_connect holds the TCP connection to the proxy and its CONNECT exchange."""
        phases, previous = {}, self.marks["start"]
        for label, mark in self.PHASES:
            if mark in self.marks:
                phases[label] = phases.get(label, 0.0) + self.marks[mark] - previous
                previous = self.marks[mark]
        phases["time_transfer"] = ended - previous
        return phases


class _FinalResponse(http.client.HTTPResponse):
    """Skips interim answers (102 Processing, 103 Early Hints) as http.client skips 100 Continue: the answer
    judged is the final one."""

    def _read_status(self):
        while True:
            version, status, reason = super()._read_status()
            if not 101 < status < 200:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers, not the final one's


URLLIB3_1 = urllib3.__version__.startswith("1.")


def _is_ip(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _PinnedConnectionMixin:
    """Connects to an address chosen by the client; Host, SNI and the certificate check keep the URL's host."""

    call = None  # set on the per-client subclass
    response_class = _FinalResponse

    def _new_conn(self):
        call, failure = self.call, None
        url_host, url_port, timeout = self._dns_host, self.port, self.timeout
        for index, address in enumerate(call.addresses):
            call.stage, call.address = "connect", address
            # only the TCP connection uses them (to the proxy's port with --proxy); restored before TLS
            self._dns_host, self.port = address, call.proxy[1] if call.proxy else url_port
            # each address gets its share of the time left: one that drops SYNs leaves time to the next
            self.timeout = call.deadline.remaining() / (len(call.addresses) - index)
            try:
                sock = super()._new_conn()
                break
            except ConnectTimeoutError as error:  # refused, unreachable or silent (NewConnectionError is one)
                failure = error
            finally:
                self._dns_host, self.port, self.timeout = url_host, url_port, timeout
        else:
            raise failure
        call.mark("connect")
        call.stage = "proxy" if call.proxy else "TLS" if isinstance(self, HTTPSConnection) else "response"
        return sock

    def connect(self):
        if isinstance(self, HTTPSConnection) and URLLIB3_1 and self.ssl_context.check_hostname and _is_ip(self.host):
            # urllib3 1.26 (Debian 12's) gives Python no server_hostname for an IP address, which Python refuses
            # while check_hostname is on ("check_hostname requires server_hostname"); with it off, urllib3 matches
            # the certificate's IP address itself, as it does for every host when check_hostname is off
            self.ssl_context.check_hostname = False
        if self.call.proxy:  # CONNECT through the proxy to the URL's host; SNI and the certificate check stay its
            self.set_tunnel(self.host, self.port)
        super().connect()
        if isinstance(self, HTTPSConnection):  # verified or not (--insecure), the certificate is at hand
            self.call.certificate = self.sock.getpeercert(binary_form=True)
            self.call.mark("TLS")
        self.call.stage = "response"

    def _tunnel(self):
        try:
            super()._tunnel()
        except OSError as error:  # http.client's "Tunnel connection failed: 403 Forbidden"
            if str(error).startswith("Tunnel connection failed: "):
                raise ProxyRefused("refused CONNECT: " + one_line(str(error)[26:], 60)) from None
            raise
        self.call.mark("proxy")
        self.call.stage = "TLS"

    def getresponse(self, *args, **kwargs):
        self.call.mark("sent")  # the request is out: from here, the wait for the answer
        response = super().getresponse(*args, **kwargs)
        self.call.mark("headers")
        return response


class ProxyRefused(OSError):
    """The proxy answered CONNECT with another status than 200."""


class _WholeBodyPool:
    """A body shorter than its Content-Length is an incomplete answer, not a shorter one: urllib3 2 says so by
    default, urllib3 1.26 (Debian 12's) only when asked."""

    def urlopen(self, *args, **kwargs):
        kwargs.setdefault("enforce_content_length", True)
        return super().urlopen(*args, **kwargs)


# urllib3's connection and pool classes, by scheme
_BASES = {"http": (HTTPConnection, HTTPConnectionPool), "https": (HTTPSConnection, HTTPSConnectionPool)}


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, call, tls, scheme):
        self.call, self.tls, self.scheme = call, tls, scheme
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, ssl_context=self.tls, **kwargs)
        # the classes of the call's scheme only: making a class takes some 0.1 ms
        connection, pool = _BASES[self.scheme]
        pinned = type("Pinned" + connection.__name__, (_PinnedConnectionMixin, connection), {"call": self.call})
        self.poolmanager.pool_classes_by_scheme = {
            self.scheme: type("Pinned" + pool.__name__, (_WholeBodyPool, pool), {"ConnectionCls": pinned}),
        }

    def cert_verify(self, conn, url, verify, cert):
        # the context holds the trust already: naming a CA file here would make urllib3 load it again; Debian's
        # urllib3 1.26 names its system bundle by default, which would also trust every public CA beside --ca-cert
        # (and parse some 150 certificates into our context inside the timed call)
        conn.cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
        conn.ca_certs = None


def resolve(host, port, deadline, family=0):
    """getaddrinfo (of `family`, 0 for any) in a daemon thread, so that a hanging resolver cannot outlive the
    deadline."""
    result, done = {}, _thread.allocate_lock()
    done.acquire()

    def lookup():
        try:
            infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
            result["addresses"] = list(dict.fromkeys(info[4][0] for info in infos))
        except OSError as error:
            result["error"] = error
        finally:
            done.release()

    # a bare thread and a lock: threading.Thread's start() and join() cost some 0.2 ms more on every DNS-less check
    _thread.start_new_thread(lookup, ())
    if not done.acquire(timeout=deadline.remaining()):
        raise DeadlineExceeded()
    if "error" in result:
        raise result["error"]
    return result["addresses"]


def _chain(error):
    """The exception and those behind it, through requests' and urllib3's wrappers, innermost last."""
    chain = [error]
    while True:
        inner = getattr(error, "reason", None)
        if not isinstance(inner, BaseException):  # a suppressed context (`raise ... from None`) is not behind it:
            # urllib3 1.26 raises the real error from None over its own TypeError of an older getresponse() call
            inner = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        if inner is None and error.args and isinstance(error.args[-1], BaseException):
            inner = error.args[-1]
        if not isinstance(inner, BaseException) or inner in chain:
            return chain
        chain.append(inner)
        error = inner


def _root_cause(error):
    """The innermost exception behind requests' and urllib3's wrappers."""
    return _chain(error)[-1]


def _reason(error):
    """A short, human reason for a transport failure."""
    chain = _chain(error)
    cause = chain[-1]
    chunk = next((e for e in chain if isinstance(e, InvalidChunkLength)), None)
    if chunk is not None:  # its cause, int()'s ValueError, would read "invalid literal for int"
        return "invalid chunked encoding (chunk size '%s')" % one_line(chunk.length.decode("latin-1").strip(), 20)
    if isinstance(cause, ProxyRefused):
        return str(cause)
    if isinstance(cause, http.client.UnknownProtocol):
        return "not an HTTP/1.x answer: '%s'" % one_line(cause.args[0] if cause.args else "", 40)
    if isinstance(cause, (socket.timeout, TimeoutError, DeadlineExceeded)) or "timed out" in str(cause):
        return "timed out"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, http.client.RemoteDisconnected):  # before ConnectionResetError, its base
        return "connection closed without an answer"
    if isinstance(cause, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(cause, http.client.IncompleteRead):
        return "connection closed before the end of the body"
    if isinstance(cause, http.client.BadStatusLine):
        return "not an HTTP answer: '%s'" % one_line(cause.args[0] if cause.args else "", 40)
    if getattr(cause, "verify_message", None):
        return "certificate verify failed: %s" % cause.verify_message
    if getattr(cause, "reason", None) in NOT_TLS:
        return "%s (plain HTTP on this port?)" % cause.reason.replace("_", " ").lower()
    if getattr(cause, "reason", None) and isinstance(cause.reason, str):
        return cause.reason.replace("_", " ").lower()
    text = str(cause) or type(cause).__name__
    text = re.sub(r"^\[Errno -?\d+\] ", "", text)
    text = re.sub(r"^<[^>]+>: ", "", text)
    return one_line(text.split("(")[0].strip(" :"), 100) or type(cause).__name__


class Client:
    """One HTTP(S) call at a time to the platform, bounded by the plugin's deadline."""

    def __init__(self, deadline, tls, address=None, family=0, proxy=None):
        """`tls`: an ssl.SSLContext made before the clock starts (loading a CA bundle takes milliseconds), or None
        for plain HTTP; `family`: socket.AF_INET or AF_INET6 to resolve names to that IP version only (-4, -6), 0
        for any; `proxy`: (host, port) of an HTTP proxy to reach HTTPS URLs through (CONNECT), or None."""
        self.deadline, self.tls, self.address, self.family = deadline, tls, address, family
        self.proxy = proxy

    @property
    def verify(self):
        """Whether the server's certificate is verified (no context: plain HTTP, no certificate)."""
        return self.tls is not None and self.tls.verify_mode != ssl.CERT_NONE

    def request(self, method, url, headers=None, json_body=None, files=None):
        """Make one call; return an Answer, or raise TransportError naming the stage that failed. `files`: a
        multipart body, as requests takes it ({"file": (name, bytes, type)})."""
        parsed = requests.utils.urlparse(url)
        host, port = parsed.hostname, parsed.port or DEFAULT_PORT[parsed.scheme]
        started = time.monotonic()
        call = _Call([self.address] if self.address else [], self.deadline, started, self.proxy)
        self.deadline.doing = lambda: "the call to %s, at stage %s," % (url, call.stage)
        name, name_port = self.proxy or (host, port)  # with --proxy, only the proxy's name is resolved here
        try:
            with self.deadline.alarm():
                if not call.addresses:
                    call.stage = "resolve"
                    call.addresses = resolve(name, name_port, self.deadline, self.family)
                    call.mark("resolve")
                return self._exchange(method, url, parsed.scheme, headers, json_body, files, call, started)
        except DeadlineExceeded:
            elapsed = time.monotonic() - started
            raise TransportError(call.stage, url, host, port, call.address, "timed out after %.1fs" % elapsed,
                                 elapsed, proxy=self.proxy) from None
        except (requests.RequestException, OSError) as error:
            elapsed = time.monotonic() - started
            reason = _reason(error)
            if reason == "timed out":  # the call's own timeout (in a thread no SIGALRM comes): worded as the alarm's
                reason = "timed out after %.1fs" % elapsed
            raise TransportError(call.stage, url, host, port, call.address, reason, elapsed,
                                 self._rejected_certificate(error, call.address, host, port),
                                 proxy=self.proxy) from None
        finally:
            self.deadline.doing = None

    def _rejected_certificate(self, error, address, host, port):
        """Long-output lines on the certificate that failed verification, fetched again unverified."""
        if not isinstance(_root_cause(error), ssl.SSLCertVerificationError):
            return None
        if self.proxy:  # fetching it again would need the tunnel again: the reason above says enough
            return ["certificate: not read again (through the proxy)"]
        from check_pryv import certificate  # a rejected certificate only

        try:
            with self.deadline.alarm():
                return certificate.parse(certificate.fetch(address, port, host, self.deadline.remaining())).lines()
        except (OSError, ValueError, DeadlineExceeded) as failure:
            return ["certificate: not read (%s)" % _reason(failure)]

    def _exchange(self, method, url, scheme, headers, json_body, files, call, started):
        # requests' transport adapter without a Session: a health check has no cookies, no .netrc, no proxy (it talks
        # to the platform itself) and follows no redirect, so there is nothing for a Session to merge, and building
        # one took some 0.5 ms of every check. The headers are a Session's defaults, ours over them.
        all_headers = requests.utils.default_headers()
        all_headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        all_headers.update(headers or {})
        request = requests.Request(method, url, headers=all_headers, json=json_body, files=files).prepare()
        adapter = _PinnedAdapter(call, self.tls, scheme)
        remaining = self.deadline.remaining()
        with contextlib.closing(adapter), adapter.send(request, stream=True, timeout=(remaining, remaining),
                                                       verify=self.verify, proxies={}) as response:
            call.stage = "body"
            body, capped = bytearray(), False
            for chunk in response.iter_content(16384):
                body += chunk
                if len(body) > BODY_CAP:
                    capped = True
                    break
                self.deadline.remaining()
            ended = time.monotonic()
            address = "proxy %s:%d (%s)" % (*call.proxy, call.address) if call.proxy else call.address
            return Answer(url, response.status_code, response.reason or "", response.headers, bytes(body),
                          ended - started, address, capped, call.certificate, call.phases(ended))
