"""The time a command allows itself; kept apart so that the DNS plugin need not import requests."""
import time


class DeadlineExceeded(Exception):
    """Raised (from the SIGALRM handler, or by a check) when the plugin's own deadline has passed."""


class Deadline:
    """The time the plugin allows itself, counted from its start, less a margin to print a result."""

    MARGIN = 0.25

    def __init__(self, seconds):
        self.seconds = seconds
        self.expires = time.monotonic() + max(0.1, seconds - self.MARGIN)

    def remaining(self):
        """Seconds left; raises DeadlineExceeded once there are none."""
        left = self.expires - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded()
        return left
