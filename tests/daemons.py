"""What the integration tests share to run a real daemon: free loopback ports, and start, log tail and stop."""
import contextlib
import os
import signal
import socket
import subprocess

HOST = "127.0.0.1"


def free_ports(count, udp=False):
    """`count` distinct loopback ports free now, all bound at once so that none repeats, then released."""
    ports = []
    with contextlib.ExitStack() as held:
        for _ in range(count):
            ports.append(_free_udp_and_tcp(held) if udp else _bound(held, socket.SOCK_STREAM))
    return ports


def _bound(held, kind, port=0):
    """The port of a socket of `kind` bound to `port` on loopback, kept open until `held` closes."""
    sock = held.enter_context(socket.socket(socket.AF_INET, kind))
    sock.bind((HOST, port))
    return sock.getsockname()[1]


def _free_udp_and_tcp(held):
    """A port free for both UDP and TCP, for a daemon that binds both (dnsmasq)."""
    for _ in range(50):
        port = _bound(held, socket.SOCK_DGRAM)
        try:
            _bound(held, socket.SOCK_STREAM, port)
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


class Daemon:
    """A daemon in the foreground, its state under `self.work`; subclasses name their `logs`."""

    logs = ("daemon.log",)  # file names under self.work whose tails explain a failure
    tail_lines = 25
    proc = None

    def spawn(self, argv):
        """Start argv into daemon.log in a session of its own, so that stop() ends it and every process it spawned."""
        with open(self.work / "daemon.log", "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        return self.proc

    def log_tail(self, lines=None):
        """The last lines of each of `logs`, for a failure message (a missing file gives nothing)."""
        lines, text = lines or self.tail_lines, ""
        for name in self.logs:
            try:
                text += "\n".join((self.work / name).read_text(errors="replace").splitlines()[-lines:]) + "\n"
            except OSError:
                pass
        return text

    def stop(self):
        """SIGTERM, then SIGKILL, to the daemon's process group: its children go with it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
