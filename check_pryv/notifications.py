"""check_pryv_core --notifications: the core pushes `eventsChanged` to a socket.io client, as realtime apps need.

After the usual events?limit=1 call, on the health account's core:

1. connect over WebSocket (socket.io 4: Engine.IO v4, `/socket.io/?auth=TOKEN&EIO=4&transport=websocket` on the
   core's host) and join the user's namespace in the form the official JS client (npm `pryv`, `@pryv/socket.io`)
   uses: it joins the path of `API_ENDPOINT + USERNAME`, so `/USER` in DNS mode (`https://USER.DOMAIN/`) and
   `/USER/USER` DNS-less (`https://HOSTNAME/USER/`);
2. make one change to the event --write uses (stream --write-stream, made on the first run: check_pryv.write);
3. wait for `eventsChanged` on that namespace.

States: OK when it comes; CRITICAL when the WebSocket upgrade is refused (a front that does not pass upgrades: REST
stays 200 while every realtime app breaks), when the namespace is refused (the server's message), when the change
is refused, and when no `eventsChanged` comes within the deadline (-t bounds all of it). Perfdata
`notification_time`: from the start of the change to the notification.

Known platform bug (open-pryv.io v2, socket-io/Manager.ts): an API worker keeps one namespace per user, made with
the form its first client used, and notifies only that namespace; a later client joining with the other form is
acknowledged and never notified. The check joins the official client's form only, so it is never OK while apps
that use that form get nothing; run it in one mode per health account.

The client is python-socketio (`pip install 'check_pryv[notifications]'`; Debian: python3-socketio), loaded only
with --notifications. The token travels in the connection URL, as the official client sends it: the libraries' logs
(which print the URL) are silenced, and the -v line shows the URL with `auth=***`.
"""
import logging
import os
import socket
import threading
import time
from urllib.parse import quote, urlsplit

import nagiosplugin

from check_pryv import options, plugin, write
from check_pryv.client import Answer, one_line, resolve
from check_pryv.deadline import DeadlineExceeded

METRIC = "notifications"
INSTALL = "pip install 'check_pryv[notifications]' (Debian: apt install python3-socketio)"

try:
    import engineio.client
    import socketio
    import websocket
except ImportError:  # the optional client: --notifications says how to install it
    socketio = None


def require_client():
    """UsageError (UNKNOWN) naming the install command when python-socketio's client is missing."""
    if socketio is None:
        raise options.UsageError("--notifications needs python-socketio with its client: %s" % INSTALL)


class _Failed(Exception):
    """A stage of the socket.io connection went wrong; args are (kind, text), as write.Failed's."""


def namespace_of(target, username):
    """(the engine's base URL, the namespace) the official JS client uses: `io(API_ENDPOINT + USERNAME)`."""
    url = urlsplit(target.core_url(username, quote(username)))
    return "%s://%s/" % (url.scheme, url.netloc), url.path


class _PinnedWebSocket:
    """Stands in for the websocket module inside engineio: opens the TCP connection (the address --address or
    -4/-6 chose, within the deadline) and the TLS session (the check's own trust) itself, keeps the reason
    of a refused upgrade, and hands websocket-client the connected socket."""

    def __init__(self, check):
        self.check = check

    def __getattr__(self, name):
        return getattr(websocket, name)

    def create_connection(self, url, **kwargs):
        sock = self.check.open_socket()
        kwargs["timeout"] = self.check.deadline.remaining()
        self.check.stage = "upgrade"
        try:
            connection = websocket.create_connection(url, socket=sock, **kwargs)
        except websocket.WebSocketBadStatusException as error:
            self.check.refusal = error
            raise
        except (OSError, websocket.WebSocketException) as error:
            self.check.failure = error
            raise
        self.check.stage = "open"  # engineio reads the open packet next
        return connection


class Notifications(write.WritePath):
    """Measures: whether eventsChanged reaches a socket.io client after a change to the check event, and how fast.
    A part of the core check (check_core.PARTS), on the event --write uses: write.WritePath finds (or makes) it and
    changes it; the outcome is `written` (notified) or `first` (notified, after the first run made the event)."""

    metric, label = METRIC, "notifications"

    def __init__(self, *args):
        super().__init__(*args)
        self.deadline = self.client.deadline
        self.base, self.namespace = namespace_of(self.target, self.username)
        self.stage, self.refusal, self.failure, self.address = "connect", None, None, None
        self.namespace_error = None
        self.joined, self.notified = threading.Event(), threading.Event()
        self.changed_at = self.notified_at = None

    def round_trip(self):
        sio = self.make_client()
        try:
            return self.listen(sio)
        except _Failed as failed:
            self.lines.append("notifications: stopped at stage %s (%s)" % (self.stage, self.address or "no address"))
            raise write.Failed(*failed.args) from None
        finally:
            self.close(sio)

    def said(self, text):
        return "notifications: " + text

    def times(self):
        if self.notified_at is not None:
            yield nagiosplugin.Metric("notification_time", plugin.perf_seconds(self.notified_at - self.changed_at),
                                      "s", min=0, context="notification_time")

    def make_client(self):
        quiet = logging.getLogger("check_pryv.notifications")  # the libraries log the URL, token included
        quiet.addHandler(logging.NullHandler())
        quiet.propagate, quiet.level = False, logging.CRITICAL + 1
        sio = socketio.Client(reconnection=False, logger=quiet, engineio_logger=quiet, handle_sigint=False,
                              request_timeout=max(0.1, self.deadline.remaining()))
        engineio.client.websocket = _PinnedWebSocket(self)
        sio.on("eventsChanged", self.on_events_changed, namespace=self.namespace)
        sio.on("connect", self.joined.set, namespace=self.namespace)
        sio.on("connect_error", self.on_connect_error, namespace=self.namespace)
        return sio

    def close(self, sio):
        """Leave politely when there is time left (the process ends right after the result anyway): the engine's
        close, without waiting for its threads (python-socketio 5.18's disconnect() would)."""
        try:
            with self.deadline.alarm():
                sio.eio.disconnect(abort=True)
        except (OSError, DeadlineExceeded, engineio.exceptions.EngineIOError):
            pass

    def on_events_changed(self, *_):
        if self.changed_at is not None and self.notified_at is None:
            self.notified_at = time.monotonic()
            self.notified.set()

    def on_connect_error(self, data=None):
        message = data.get("message") if isinstance(data, dict) else data
        self.namespace_error = one_line(message if message is not None else "no reason given", 120)
        self.joined.set()

    def listen(self, sio):
        started = time.monotonic()
        self.lines.append("notifications: %ssocket.io/?auth=***&EIO=4&transport=websocket, namespace %s" % (
            self.base, self.namespace))
        url = "%s?auth=%s" % (self.base, quote(self.token, safe=""))
        try:
            with self.deadline.alarm():
                # wait=False: python-socketio 5.7 waits out its whole wait_timeout after a refused namespace
                sio.connect(url, transports=["websocket"], namespaces=[self.namespace], socketio_path="socket.io",
                            wait=False)
                self.stage = "namespace"
                self.joined.wait(self.deadline.remaining())
        except DeadlineExceeded:
            raise _Failed("unreachable" if self.stage != "namespace" else "namespace",
                          "%s timed out after %.1fs" % (self.stage_words(), time.monotonic() - started)) from None
        except socketio.exceptions.ConnectionError as error:  # with wait=False, the engine's failures only
            raise _Failed(*self.engine_failure(error, started)) from None
        if self.namespace_error is not None:
            raise _Failed("namespace", "namespace %s refused: %s" % (self.namespace, self.namespace_error))
        if not self.joined.is_set():  # the wait ran to the deadline just before the alarm
            raise _Failed("namespace", "%s timed out after %.1fs" % (self.stage_words(), time.monotonic() - started))
        self.lines.append("notifications: joined namespace %s at %s (%s) in %.3fs" % (
            self.namespace, self.base, self.address, time.monotonic() - started))
        self.stage = "change"
        self.changed_at = time.monotonic()
        value = "check_pryv notification %s" % os.urandom(4).hex()
        _, kind = self.check_event(value, replace=True)  # the one change (the first run's: the event's creation)
        self.stage = "notification"
        try:
            waited = self.notified.wait(self.deadline.remaining())
        except DeadlineExceeded:
            waited = False
        if not waited:
            other = "/%s" % self.username if self.namespace.count("/") > 1 else "/%s/%s" % ((self.username,) * 2)
            self.lines.append("notifications: joined and never notified; if another client joined this user's "
                              "namespace as %s first on this API worker, the platform notifies only that form "
                              "(open-pryv.io's namespace-form bug: docs/plugins.rst, Notifications)" % other)
            raise _Failed("silent", "no eventsChanged on namespace %s within %.1fs of the change" % (
                self.namespace, time.monotonic() - self.changed_at))
        elapsed = self.notified_at - self.changed_at
        self.lines.append("notifications: eventsChanged %.3fs after the change started" % elapsed)
        return write.Outcome("written" if kind == "written" else "first",
                             "eventsChanged %s after the change" % plugin.shown_seconds(elapsed))

    def stage_words(self):
        return {"connect": "connecting", "TLS": "the TLS handshake", "upgrade": "the WebSocket upgrade",
                "open": "the Engine.IO open packet",
                "namespace": "joining namespace %s" % self.namespace}.get(self.stage, self.stage)

    def engine_failure(self, error, started):
        """(kind, text) of a connection that did not get to its namespace, from what each stage kept: the upgrade's
        refusal, a socket's error, or engineio's own words on the open packet."""
        if self.refusal is not None:
            # "Handshake status 400 Bad Request" (newer: then " -+-+- HEADERS -+-+- BODY"): websocket-client keeps the
            # reason phrase only in its message
            status = one_line(str(self.refusal).split(" -+-+- ")[0].replace("Handshake status ", "", 1), 60)
            body = getattr(self.refusal, "resp_body", None)  # websocket-client 1.2.3 (Debian 12's) reads none
            if isinstance(body, bytes) and body.strip():  # the front's page, or engine.io's JSON, worded as always
                answer = Answer(self.base + "socket.io/", self.refusal.status_code, "", {}, body, 0.0, self.address,
                                False)
                self.lines.append("notifications: the upgrade's answer: %s" % answer.body_excerpt())
            self.lines.append("notifications: the upgrade got %d: a front (proxy) that does not pass WebSocket "
                              "upgrades breaks every realtime app while REST calls work" % self.refusal.status_code)
            return "refused", "WebSocket upgrade refused: %s" % status
        if self.failure is not None:
            return "unreachable", "%s failed: %s" % (self.stage_words(), one_line(self.failure, 120))
        if time.monotonic() >= self.deadline.expires:  # engineio turns the deadline's alarm into its own error
            return "unreachable", "%s timed out after %.1fs" % (self.stage_words(), time.monotonic() - started)
        return "unreachable", "%s failed: %s" % (self.stage_words(), one_line(error, 120))

    def open_socket(self):
        """The TCP connection (and TLS session) to the core's host, within the deadline."""
        url = urlsplit(self.base)
        host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
        self.stage = "connect"
        try:
            addresses = [self.client.address] if self.client.address else resolve(
                host, port, self.deadline, self.client.family)
            sock = None
            for index, address in enumerate(addresses):
                self.address = address
                try:
                    sock = socket.create_connection((address, port), self.deadline.remaining() / (
                        len(addresses) - index))
                    break
                except OSError as error:
                    if index == len(addresses) - 1:
                        raise error
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if url.scheme == "https":
                self.stage = "TLS"
                sock.settimeout(self.deadline.remaining())
                sock = self.client.tls.wrap_socket(sock, server_hostname=host)
            return sock
        except OSError as error:
            self.failure = error
            raise


def resource(client, target, username, token, args, events_read):
    """The notifications part, as check_core runs its parts (check_core.PARTS): UNKNOWN without its client."""
    require_client()
    return Notifications(client, target, username, token, args.write_stream, events_read)


def contexts(args):
    """The outcome, judged as the write path's is, and notification_time (perfdata)."""
    return [write.WriteContext(METRIC), plugin.TimeContext(None, None, "notification_time", "notification time")]
