"""What every plugin shares around nagiosplugin: the run (deadline, signals, secrets), contexts and summary."""
import os
import signal
import sys
import threading
import time
import traceback
import warnings

import nagiosplugin

from check_pryv import options
from check_pryv.deadline import Deadline, DeadlineExceeded, process_age
from check_pryv.options import UNKNOWN


def perf_seconds(value):
    """Seconds to a tenth of a millisecond, the precision perfdata shows them with."""
    return round(value, 4)


def plain(number):
    """A number in plain decimals (`0.00001`, `30`): perfdata never shows scientific notation like `1e-05`."""
    if number is None:
        return None
    text = repr(number)
    if text.lstrip("-").replace(".", "", 1).isdigit():  # the usual case, already plain: spare decimal's import
        return text[:-2] if text.endswith(".0") else text
    from decimal import Decimal

    return format(Decimal(text).normalize(), "f")


def plain_range(limits):
    """A Range as perfdata shows it, its bounds in plain decimals (Range's own str prints `1e-05`)."""
    start = "~:" if limits.start == float("-inf") else "" if limits.start == 0 else plain(limits.start) + ":"
    return ("@" if limits.invert else "") + start + ("" if limits.end == float("inf") else plain(limits.end))


def printable(text):
    """One line, whatever a server put in it: no control characters, and no `|`, which starts perfdata."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(text.split())).replace("|", "/")


class Scrubbed:
    """An output stream that replaces every secret by `***` before it is written."""

    def __init__(self, stream, secrets):
        self.stream, self.secrets = stream, secrets

    def scrub(self, text):
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def write(self, text):
        return self.stream.write(self.scrub(text))

    def __getattr__(self, name):  # flush, encoding, isatty...
        return getattr(self.stream, name)


class PlainScalarContext(nagiosplugin.ScalarContext):
    """A ScalarContext whose perfdata, thresholds included, is all plain decimals."""

    def performance(self, metric, resource):
        return nagiosplugin.Performance(metric.name, plain(metric.value), metric.uom, plain_range(self.warning),
                                        plain_range(self.critical), plain(metric.min), plain(metric.max))


class TimeContext(PlainScalarContext):
    """The response time in seconds, judged by -w/-c; perfdata `time=0.042s;1;2;0;TIMEOUT` like check_http.
    Other times (`name`, in words `what`) are judged and worded the same way."""

    def __init__(self, warning, critical, name="time", what="response time"):
        super().__init__(name, warning, critical)
        self.what = what

    def evaluate(self, metric, resource):
        result = super().evaluate(metric, resource)
        if result.state != nagiosplugin.Ok:
            limit = self.critical if result.state == nagiosplugin.Critical else self.warning
            return self.result_cls(result.state, "%s %.3fs outside %s" % (self.what, metric.value,
                                                                          plain_range(limit)), metric)
        return result


class SkewContext(PlainScalarContext):
    """The server's clock minus ours; thresholds apply to its absolute value, none means perfdata only."""

    def __init__(self, warning, critical):
        def symmetric(limit):
            return None if limit is None else nagiosplugin.Range("%s:%s" % (plain(-limit), plain(limit)))

        super().__init__("clock_skew", symmetric(warning), symmetric(critical))
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
            return nagiosplugin.Performance("clock_skew", plain(metric.value), "s")
        return super().performance(metric, resource)


class Summary(nagiosplugin.Summary):
    """The first line tells what happened to the main probe; problems first, worst first."""

    def __init__(self, main_metric, details):
        self.main_metric, self.details = main_metric, details

    def ok(self, results):
        return printable(results[self.main_metric].hint)

    def problem(self, results):
        hints = [r.hint for r in sorted(results, key=lambda r: r.state, reverse=True)
                 if r.state != nagiosplugin.Ok and r.hint]
        main = results[self.main_metric] if self.main_metric in results else None
        if main is not None and main.state == nagiosplugin.Ok:
            hints.insert(0, main.hint)
        return printable("; ".join(hints))

    def verbose(self, results):
        return [printable(line) for line in self.details()]


def _unknown_exit(service, text):
    os.write(1, ("%s UNKNOWN - %s\n" % (service, text)).encode())
    os._exit(UNKNOWN)


def run(service, parser, build, argv=None):
    """Parse arguments, build the Check, run it within the deadline, print, exit.

    `build(args, deadline, secrets)` returns a nagiosplugin.Check; it may add secrets (the token)
    to the list so that they are scrubbed from every output.
    """
    # Icinga and Nagios end a late plugin with SIGTERM: say so on one line instead of dying silently.
    signal.signal(signal.SIGTERM, lambda *_: _unknown_exit(service, "terminated by SIGTERM"))
    argv = sys.argv[1:] if argv is None else argv
    # Every byte written goes through the scrubber, from the parser's first error message on.
    secrets = parser.secrets(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")  # a server's text never fails to print
    sys.stdout, sys.stderr = Scrubbed(sys.stdout, secrets), Scrubbed(sys.stderr, secrets)
    args = options.parse(parser, argv)
    if args.verbose < 3:
        warnings.simplefilter("ignore")  # a library's warning on stderr would end up in the check's output
    deadline = Deadline(args.timeout, process_age())
    # The deadline interrupts the network I/O (Deadline.alarm) so that the check reports CRITICAL with the
    # stage; the watchdog thread is the last resort, should the main thread be stuck inside C code.
    watchdog = threading.Timer(max(0.0, deadline.started + args.timeout + 0.1 - time.monotonic()), _unknown_exit,
                               (service, "plugin did not finish within %ds" % args.timeout))
    watchdog.daemon = True
    watchdog.start()

    try:
        try:
            check = build(args, deadline, secrets)
        except options.UsageError as error:
            parser.error(str(error))
        check.name = service
        check.main(verbose=args.verbose)
    except SystemExit as done:  # nagiosplugin printed the result and exits
        _leave(done.code)
    except DeadlineExceeded:
        _finish(service, "timed out after %ds" % args.timeout, args.verbose)
    except Exception as error:  # a bug of ours: UNKNOWN with one line; the traceback only at -vvv
        _finish(service, "internal error: %s: %s" % (type(error).__name__, error), args.verbose)


def _leave(code):
    """Exit now that the result is out, skipping the interpreter's teardown: freeing its few hundred
    modules takes about 15 ms, more than a check of a nearby platform (see benchmarks/bench.py)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # the caller closed our output: nothing more can be said
        pass
    os._exit(code if isinstance(code, int) else 0 if code is None else UNKNOWN)


def _finish(service, text, verbose):
    sys.stdout.write("%s UNKNOWN - %s\n" % (service, printable(text)[:200]))
    if verbose >= 3:
        sys.stdout.write(traceback.format_exc())
    sys.stdout.flush()
    sys.exit(UNKNOWN)
