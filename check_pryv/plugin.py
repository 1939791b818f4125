"""What every plugin shares around nagiosplugin: the run (deadline, signals, secrets), contexts and summary."""
import os
import signal
import sys
import threading
import time
import traceback

import nagiosplugin

from check_pryv import options
from check_pryv.deadline import Deadline, DeadlineExceeded

UNKNOWN = 3


def perf_seconds(value):
    """Seconds rounded so that perfdata never shows scientific notation (repr(0.0001) is still decimal)."""
    return round(value, 4)


class Scrubbed:
    """A stdout that replaces every secret by `***` before it is written."""

    def __init__(self, stream, secrets):
        self.stream, self.secrets = stream, secrets

    def scrub(self, text):
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def write(self, text):
        return self.stream.write(self.scrub(text))

    def flush(self):
        self.stream.flush()


class TimeContext(nagiosplugin.ScalarContext):
    """The response time in seconds, judged by -w/-c; perfdata `time=0.042s;1;2;0;TIMEOUT` like check_http."""

    def __init__(self, warning, critical):
        super().__init__("time", warning, critical)

    def evaluate(self, metric, resource):
        result = super().evaluate(metric, resource)
        if result.state != nagiosplugin.Ok:
            limit = self.critical if result.state == nagiosplugin.Critical else self.warning
            return self.result_cls(result.state, "response time %.3fs outside %s" % (metric.value, limit), metric)
        return result


class SkewContext(nagiosplugin.ScalarContext):
    """The server's clock minus ours; thresholds apply to its absolute value, none means perfdata only."""

    def __init__(self, warning, critical):
        super().__init__("clock_skew",
                         nagiosplugin.Range("%g:%g" % (-warning, warning)) if warning is not None else None,
                         nagiosplugin.Range("%g:%g" % (-critical, critical)) if critical is not None else None)
        self.judged = warning is not None or critical is not None

    def evaluate(self, metric, resource):
        if not self.judged:  # an empty range would mean 0: and turn a negative skew CRITICAL
            return self.result_cls(nagiosplugin.Ok, None, metric)
        result = super().evaluate(metric, resource)
        if result.state != nagiosplugin.Ok:
            return self.result_cls(result.state, "server clock off by %+.3fs" % metric.value, metric)
        return result

    def performance(self, metric, resource):
        if not self.judged:
            return nagiosplugin.Performance("clock_skew", metric.value, "s")
        return super().performance(metric, resource)


class Summary(nagiosplugin.Summary):
    """The first line tells what happened to the main probe; problems first, worst first."""

    def __init__(self, main_metric, details=None):
        self.main_metric = main_metric
        self.details = details or (lambda: [])

    def ok(self, results):
        return results[self.main_metric].hint

    def problem(self, results):
        hints = [r.hint for r in sorted(results, key=lambda r: r.state, reverse=True)
                 if r.state != nagiosplugin.Ok and r.hint]
        main = results[self.main_metric] if self.main_metric in results else None
        if main is not None and main.state == nagiosplugin.Ok:
            hints.insert(0, main.hint)
        return "; ".join(hints)

    def verbose(self, results):
        return self.details()


def _unknown_exit(service, text):
    os.write(1, ("%s UNKNOWN - %s\n" % (service, text)).encode())
    os._exit(UNKNOWN)


def run(service, parser, build, argv=None):
    """Parse arguments, build the Check, run it within the deadline, print, exit.

    `build(args, deadline, secrets)` returns a nagiosplugin.Check; it may add secrets (the token)
    to the list so that they are scrubbed from every output.
    """
    args = options.parse(parser, sys.argv[1:] if argv is None else argv)
    deadline = Deadline(args.timeout)
    secrets = []
    # Icinga and Nagios end a late plugin with SIGTERM: say so on one line instead of dying silently.
    signal.signal(signal.SIGTERM, lambda *_: _unknown_exit(service, "terminated by SIGTERM"))

    # Our own deadline interrupts blocking I/O so that the check reports CRITICAL with the stage;
    # the watchdog thread is the last resort, should the main thread be stuck inside C code.
    def expire(*_):
        raise DeadlineExceeded()

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, deadline.expires - time.monotonic()))
    watchdog = threading.Timer(args.timeout + 0.1, _unknown_exit,
                               (service, "plugin did not finish within %ds" % args.timeout))
    watchdog.daemon = True
    watchdog.start()

    runtime = nagiosplugin.Runtime()
    runtime.stdout = Scrubbed(sys.stdout, secrets)
    try:
        try:
            check = build(args, deadline, secrets)
        except options.UsageError as error:
            parser.error(str(error))
        check.name = service
        check.main(verbose=args.verbose)
    except DeadlineExceeded:
        _finish(runtime, service, "timed out after %ds" % args.timeout, args.verbose)
    except Exception as error:  # a bug of ours: UNKNOWN with one line; the traceback only at -vvv
        _finish(runtime, service, "internal error: %s: %s" % (type(error).__name__, error), args.verbose)


def _finish(runtime, service, text, verbose):
    signal.setitimer(signal.ITIMER_REAL, 0)
    out = runtime.stdout
    out.write("%s UNKNOWN - %s\n" % (service, text.splitlines()[0] if text else ""))
    if verbose >= 3:
        out.write(traceback.format_exc())
    out.flush()
    sys.exit(UNKNOWN)
