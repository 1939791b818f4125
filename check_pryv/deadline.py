"""The time a command allows itself; kept apart so that the DNS plugin need not import requests."""
import _thread
import contextlib
import os
import signal
import time


class DeadlineExceeded(Exception):
    """Raised (from the SIGALRM handler, or by a check) when the plugin's own deadline has passed."""


def process_age():
    """Seconds since this process started (Linux), so that the deadline counts Python's start-up too."""
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0
    return age if 0 <= age < 60 else 0.0  # anything else is not a start-up: a clock we cannot trust


class Deadline:
    """The time the plugin allows itself, counted from the process's start, less a margin to print a result."""

    MARGIN = 0.25

    def __init__(self, seconds, age=0.0):
        self.seconds = seconds
        self.started = time.monotonic() - age
        self.expires = self.started + max(0.1, seconds - self.MARGIN)
        # a function naming what the run is doing, for the last resort's message should it block where the alarm
        # cannot interrupt it (in C code that retries, a hung network mount); None between such steps
        self.doing = None
        self.thread = _thread.get_ident()  # the one thread a SIGALRM can interrupt: the one that made the deadline

    def earlier(self, seconds):
        """The same deadline, `seconds` earlier: for work in threads whose results must still be reported, and
        printed, before this one passes (check_pryv_platform's checks)."""
        earlier = Deadline(self.seconds)
        earlier.started, earlier.thread = self.started, self.thread
        earlier.expires = self.expires - seconds
        return earlier

    def remaining(self):
        """Seconds left; raises DeadlineExceeded once there are none."""
        left = self.expires - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded()
        return left

    @contextlib.contextmanager
    def alarm(self):
        """Raise DeadlineExceeded inside the block when the deadline passes, whatever it is blocked in.

        Per-operation timeouts do not bound a body that drips one byte a second; SIGALRM does. The alarm
        covers the network I/O only: once the answer is in, judging and printing it are never interrupted.
        In another thread (check_pryv_platform runs its checks in threads) Python delivers no signal: there the
        calls' own timeouts, cut to the time left, bound the I/O, and the main thread stops waiting at the deadline.
        """
        if _thread.get_ident() != self.thread:
            yield
            return
        def expire(*_):
            raise DeadlineExceeded()

        previous = signal.signal(signal.SIGALRM, expire)
        try:
            signal.setitimer(signal.ITIMER_REAL, self.remaining())
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
