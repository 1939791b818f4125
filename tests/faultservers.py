"""Misbehaving servers for the fault tests, over real sockets on 127.0.0.1.

`HTTPFault(behaviour)` accepts connections in a thread and hands each one to the behaviour the test chose
(a canned answer, a reset, a drip, a flood...), optionally over TLS. `closed_port()` and `black_hole()`
need no thread: a bound socket that does not listen refuses, a listening one whose queue is full drops SYNs.
`Dnsmasq` runs the real DNS server with the records the DNS tests ask for; `silent_udp()` never answers.
"""
import contextlib
import json
import os
import socket
import struct
import subprocess
import threading
import time

from daemons import free_ports

HOST = "127.0.0.1"


class Connection:
    """One accepted connection, as a behaviour sees it."""

    def __init__(self, sock, server):
        self.sock, self.server = sock, server
        self.sent = 0

    def read_request(self):
        """Read the request head (so that closing never resets unread data); return it."""
        head = b""
        self.sock.settimeout(5)
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                head += chunk
                if not head[:1].isalpha():  # a TLS ClientHello, say: answer at once, as nginx does
                    break
        return head

    def send(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def hold(self, seconds=60):
        """Keep the connection open, saying nothing, until the server stops or the peer leaves."""
        self.sock.settimeout(0.1)
        end = time.monotonic() + seconds
        while not self.server.stopping.is_set() and time.monotonic() < end:
            try:
                if not self.sock.recv(4096):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def reset(self):
        """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def http_response(status, body=b"", headers=()):
    """The bytes of an HTTP/1.1 answer with its Content-Length; the connection closes after it."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))] + ["%s: %s" % h for h in headers]
    lines += ["Connection: close", "Content-Length: %d" % len(body)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_answer(status, document, headers=()):
    return http_response(status, json.dumps(document), [("Content-Type", "application/json")] + list(headers))


def pryv_ok(request):
    """What a healthy platform answers the register plugin (check_username: the health account is taken, any other
    name free) and the core plugin (events)."""
    line = request.split(b"\r\n", 1)[0]
    if b"/check_username" in line:
        return json_answer(200, {"reserved": b"/healthmetrics01/check_username" in line})
    return json_answer(200, {"events": [], "meta": {"apiVersion": "1.9.3-open", "serverTime": time.time(),
                                                      "serial": "2019061301"}}, [("API-Version", "1.9.3-open")])


def html_answer(status):
    """nginx's own error page, as a dead upstream gets it."""
    title = "%d %s" % (status, REASONS[status])
    page = "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n" \
           "<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n" % (title, title)
    return http_response(status, page, [("Content-Type", "text/html"), ("Server", "nginx/1.18.0")])


# Behaviours: what a connection gets. Each is a function of a Connection.

def answer(data):
    """Read the request, send `data` (bytes, or a function of the request head returning bytes), close."""
    def behaviour(conn):
        head = conn.read_request()
        conn.send(data(head) if callable(data) else data)
        conn.sock.shutdown(socket.SHUT_WR)
        conn.hold(5)  # let the client read to the end before the socket closes
    return behaviour


def close_at_once(conn):
    """Read the request and close without a word."""
    conn.read_request()


def silent(conn):
    """Accept and read the request, never answer."""
    conn.read_request()
    conn.hold()


def headers_never_end(conn):
    """A status line and one header, then nothing."""
    conn.read_request()
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.hold()


def headers_drip(conn):
    """A status line, then one header every 0.2 s: every read gets data in time, the headers never end."""
    conn.read_request()
    conn.send(b"HTTP/1.1 200 OK\r\n")
    while not conn.server.stopping.wait(0.2):
        try:
            conn.send(b"X-Drip: 1\r\n")
        except OSError:
            return


def reset_mid_body(conn):
    """The headers and the start of the body, then a RST."""
    conn.read_request()
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"events\": [")
    time.sleep(0.3)  # the client has read the headers and waits in the body when the RST comes
    conn.reset()


def drip(conn):
    """Headers at once, then a body of one byte a second."""
    conn.read_request()
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    while not conn.server.stopping.is_set():
        try:
            conn.send(b" ")
        except OSError:
            return
        conn.server.stopping.wait(1)


def flood(size):
    """A 200 announcing `size` bytes and sending them as fast as the client reads."""
    def behaviour(conn):
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
        block, left = b"[" * 65536, size
        with contextlib.suppress(OSError):
            while left > 0 and not conn.server.stopping.is_set():
                conn.send(block[:left])
                left -= len(block)
    return behaviour


class HTTPFault:
    """A TCP server on 127.0.0.1 (or `host`, on `port`) whose connections all get `behaviour`; `tls` is a server
    SSLContext or None."""

    def __init__(self, behaviour, tls=None, host=HOST, port=0):
        self.behaviour, self.tls = behaviour, tls
        self.sock = socket.create_server((host, port))
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.connections, self.threads = [], []

    def __enter__(self):
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() below (Linux)
        for thread in self.threads:
            thread.join(5)
        self.sock.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, sock):
        with contextlib.suppress(OSError):  # the client gave up, or refused our certificate: its business
            if self.tls:
                sock.settimeout(5)
                sock = self.tls.wrap_socket(sock, server_side=True)
            connection = Connection(sock, self)
            self.connections.append(connection)
            self.behaviour(connection)
        with contextlib.suppress(OSError):
            sock.close()


@contextlib.contextmanager
def closed_port():
    """A port bound but not listening: a connection to it is refused at once."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextlib.contextmanager
def black_hole():
    """A port whose SYNs go unanswered: it listens with a full queue and never accepts."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen(0)
    port, fillers = sock.getsockname()[1], []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect((HOST, port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        sock.close()


@contextlib.contextmanager
def udp_responder(respond, host=HOST, port=0):
    """A UDP port whose every datagram gets `respond(datagram)` (bytes) back: a DNS server of the test's making."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))

    def serve():
        with contextlib.suppress(OSError):
            while True:
                data, peer = sock.recvfrom(65535)
                if not data:  # the shutdown below
                    return
                sock.sendto(respond(data), peer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield sock.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@contextlib.contextmanager
def silent_udp():
    """A UDP port bound and never read: a DNS query to it gets no answer at all."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class Dnsmasq:
    """dnsmasq in the foreground on a free port of 127.0.0.1, answering only from its options."""

    def __init__(self, binary, *options, workdir):
        self.binary, self.options, self.workdir = binary, options, workdir
        self.port, self.process = None, None

    def __enter__(self):
        for _ in range(3):  # another process may take the port between free_ports() and the bind
            self.port, = free_ports(1, udp=True)
            log = open(os.path.join(self.workdir, "dnsmasq-%d.log" % self.port), "wb")
            self.process = subprocess.Popen(
                [self.binary, "--no-daemon", "--port=%d" % self.port, "--listen-address=" + HOST,
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--user=root", "--group=root",
                 "--pid-file=", *self.options],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            if self._ready():
                return self
            self.process.kill()
            self.process.wait()
        raise RuntimeError("dnsmasq did not start: see %s" % self.workdir)

    def _ready(self):
        end = time.monotonic() + 5
        while time.monotonic() < end and self.process.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex((HOST, self.port)) == 0:
                    return True
            time.sleep(0.02)
        return False

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
