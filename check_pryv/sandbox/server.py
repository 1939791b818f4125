"""The socket servers: one HTTP(S) server for register and cores, one DNS server on UDP and TCP."""

from __future__ import annotations

import contextlib
import socket
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .messages import Request
from .realtime import is_socketio

CONNECTION_TIMEOUT = 30  # seconds an idle (or handshaking) client connection is kept


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


class HTTPServer(_Server, ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's getfqdn(), a reverse DNS lookup
        self.server_name, self.server_port = self.server_address[:2]


class _DNSUDPServer(_Server, socketserver.UDPServer):
    pass


class _DNSTCPServer(_Server, socketserver.ThreadingTCPServer):
    allow_reuse_address = True


class HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as behind nginx

    def send_response(self, code, message=None):
        """The status line and Date, without BaseHTTPRequestHandler's Server header: v2 sends none (nginx's own
        pages carry theirs)."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def _serve(self):
        if self.headers.get("Upgrade", "").lower() == "websocket" and is_socketio(self.path.partition("?")[0]):
            self.server.sandbox.serve_websocket(self)  # socket.io: this thread serves the connection until its end
            return
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


def bind_dns(port, sandbox):
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
