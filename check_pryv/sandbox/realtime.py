"""socket.io notifications, as open-pryv.io v2 serves them: socket.io 4 (Engine.IO protocol 4, Socket.IO protocol
5) over WebSocket only (its API workers refuse polling), on the sandbox's own HTTP(S) server.

`GET /socket.io/?EIO=4&transport=websocket&auth=TOKEN` with `Upgrade: websocket` on any host of the platform opens
the connection (Engine.IO open packet `0{...}`); `40/NAMESPACE,` joins a user's namespace, whose last path segment
is the user (`/USER` from the DNS mode's official client, `/USER/USER` DNS-less); the token of the handshake is
checked as the API checks it: `40/NAMESPACE,{"sid": ...}`, or `44/NAMESPACE,{"message": ...}` with the API's words.
After any change to a user's events, `42/NAMESPACE,["eventsChanged"]` reaches the user's namespace (streams:
`streamsChanged`). As on the real server (socket-io/Manager.ts), a user's namespace is made with the form its first
client used, and only that form is notified: a client joining with the other form is acknowledged, never notified.

Faults (`notifications`): `upgrade-refused` (a front answers the upgrade `400 Bad Request`, as nginx without the
Upgrade headers' pass-through in front of WebSocket-only workers), `namespace-refused` (every namespace refused
with the server's words for an unknown token), `silent` (joined, never notified).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import struct
import threading
from urllib.parse import parse_qs, urlsplit

from .core import USERNAME_RE
from .messages import Reply

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PING_INTERVAL, PING_TIMEOUT = 25000, 20000  # socket.io 4's defaults, in ms
# nginx's own page for a request it refuses: what a front that does not pass upgrades answers
NGINX_400 = (b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1>"
             b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def is_socketio(path):
    return path == "/socket.io" or path.startswith("/socket.io/")


def username_of(namespace):
    """The user of a namespace as v2 reads it (Manager.extractUsername): its last path segment, or None."""
    name = namespace[:-1] if namespace.endswith("/") else namespace
    candidate = name[name.rfind("/") + 1:] if name.startswith("/") else ""
    return candidate if USERNAME_RE.fullmatch(candidate.lower()) else None


class Connection:
    """One client's WebSocket; frames are written whole under a lock (notifications come from other threads)."""

    def __init__(self, handler):
        self.rfile, self.wfile = handler.rfile, handler.wfile
        self.lock, self.closed = threading.Lock(), threading.Event()
        self.namespaces = set()

    def send(self, text):
        data = text.encode()
        header = bytes([0x81])  # FIN, text
        if len(data) < 126:
            header += bytes([len(data)])
        elif len(data) < 65536:
            header += bytes([126]) + struct.pack(">H", len(data))
        else:
            header += bytes([127]) + struct.pack(">Q", len(data))
        with self.lock, contextlib.suppress(OSError, ValueError):
            self.wfile.write(header + data)

    def receive(self):
        """(opcode, payload) of the next frame; (None, b"") when the client is gone."""
        head = self.rfile.read(2)
        if len(head) < 2:
            return None, b""
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack(">H", self.rfile.read(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self.rfile.read(8))[0]
        if length > 1_000_000:
            return None, b""
        mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        payload = self.rfile.read(length)
        return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Realtime:
    """socket.io, mixed into Sandbox. Expects from it: _lock, _faults, faults, token (the health token) and _user();
    reset() calls _reset_realtime(), handle() calls notify() after a change, the HTTP handler serve_websocket()."""

    def _reset_realtime(self):
        self._namespaces = {}  # user -> the namespace form its first client used (kept, as the real server does)
        self._listeners = {}  # user -> [(connection, namespace)]

    @staticmethod
    def socketio_reply(transport):
        """What a /socket.io/ request without an upgrade gets (engine.io's errors, `cors: {credentials: true}`):
        polling refused (the API's workers take WebSocket only), a websocket transport without an upgrade bad."""
        body = b'{"code":3,"message":"Bad request"}' if transport == "websocket" else \
            b'{"code":0,"message":"Transport unknown"}'
        return Reply(400, body, {"Content-Type": "application/json", "Access-Control-Allow-Credentials": "true"})

    def serve_websocket(self, handler):
        """Runs one client's connection in its handler's thread until the client or the sandbox ends it."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        key = handler.headers.get("Sec-WebSocket-Key", "")
        if self.faults["notifications"] == "upgrade-refused":
            return handler._send(Reply(400, NGINX_400, {"Content-Type": "text/html", "Server": "nginx"}))
        if query.get("EIO") != "4" or query.get("transport") != "websocket" or not key:
            return handler._send(self.socketio_reply("polling"))
        accept = base64.b64encode(hashlib.sha1(key.encode() + WEBSOCKET_GUID).digest()).decode()
        handler.send_response(101, "Switching Protocols")
        for name, value in (("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)):
            handler.send_header(name, value)
        handler.end_headers()
        handler.close_connection = True
        connection = Connection(handler)
        connection.send("0" + json.dumps({"sid": base64.urlsafe_b64encode(os.urandom(15)).decode(), "upgrades": [],
                                          "pingInterval": PING_INTERVAL, "pingTimeout": PING_TIMEOUT,
                                          "maxPayload": 1000000}))
        threading.Thread(target=self._ping, args=(connection,), daemon=True).start()
        try:
            self._read(connection, query.get("auth"))
        except OSError:
            pass
        finally:
            connection.closed.set()
            with self._lock:
                for user, listeners in self._listeners.items():
                    self._listeners[user] = [entry for entry in listeners if entry[0] is not connection]

    @staticmethod
    def _ping(connection):
        while not connection.closed.wait(PING_INTERVAL / 1000):
            connection.send("2")

    def _read(self, connection, token):
        while True:
            opcode, payload = connection.receive()
            if opcode is None or opcode == 0x8:  # gone, or a close frame
                return
            if opcode == 0x9:  # a WebSocket ping
                continue
            text = payload.decode("utf-8", "replace")
            if text == "1":  # Engine.IO close
                return
            if text.startswith("40"):  # Socket.IO CONNECT: "40" or "40/NAMESPACE," and an optional auth object
                namespace = text[2:].split(",", 1)[0] if text[2:3] == "/" else "/"
                connection.send(self._join(connection, namespace, token))

    def _join(self, connection, namespace, token):
        """The answer to a namespace CONNECT: 40 with a sid, or 44 with the server's message (index.ts): an error of
        the API (unknown user, token) carries its `data` (null), the middleware's own errors none."""
        def refused(message, api_error=False):
            return "44%s,%s" % (namespace, json.dumps(dict({"message": message}, **({"data": None} if api_error
                                                                                      else {}))))

        joined = "40%s" % ("" if namespace == "/" else namespace + ",") + json.dumps(
            {"sid": base64.urlsafe_b64encode(os.urandom(15)).decode()})
        if namespace == "/":  # socket.io's main namespace: no user's, no check, never notified
            return joined
        username = username_of(namespace)
        if username is None:
            return refused('Invalid resource "%s".' % namespace)
        if not token:
            return refused("Missing 'auth' parameter with a valid access token.")
        with self._lock:
            user = self._user(username)
            if user is None:
                return refused('Unknown user "%s"' % username, api_error=True)
            access = next((a for a in user["accesses"] if a["token"] == token), None)
            fault = self._faults["notifications"] == "namespace-refused" or (
                token == self.token and self._faults["token"] == "rejected")
            if access is None or fault:
                return refused("Cannot find access from token.", api_error=True)
            self._namespaces.setdefault(username, namespace)
            self._listeners.setdefault(username, []).append((connection, namespace))
        return joined

    def notify(self, username, message):
        """`message` (eventsChanged, streamsChanged) to the user's namespace, in the form its first client used."""
        with self._lock:
            if self._faults["notifications"] == "silent":
                return
            first = self._namespaces.get(username)
            targets = [connection for connection, namespace in self._listeners.get(username, ()) if namespace == first]
        for connection in targets:
            connection.send("42%s,%s" % (first, json.dumps([message])))
