"""What every plugin shares around nagiosplugin: the run (deadline, signals, secrets), contexts and summary."""
import _thread
import os
import sys
import time
import traceback
import warnings

import nagiosplugin

from check_pryv import options, output, secret, start
from check_pryv.deadline import Deadline, DeadlineExceeded, process_age
from check_pryv.options import UNKNOWN


def perf_seconds(value):
    """Seconds to a tenth of a millisecond, the precision perfdata shows them with."""
    return round(value, 4)


def shown_seconds(value):
    """Seconds in a status line (`0.042s`), from the value perfdata carries: rounded once more from the raw time,
    0.00550 would read 0.006s beside a threshold message's 0.005s."""
    return "%.3fs" % perf_seconds(value)


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
    """A status or long-output line: the one filter of server text (output.one_line), and no `|`, which starts
    perfdata (the secrets go first: once `|` is rewritten, a token holding one would no longer be recognised)."""
    return output.one_line(text).replace("|", "/")


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
            words = "%s %s %s" % (self.what, shown_seconds(metric.value), beyond(metric.value, limit))
            return self.result_cls(result.state, words, metric)
        return result


def beyond(value, limits):
    """Where `value` stands against the Range it broke, in words: `over 1s`, `under 0.2s`, `inside 0..0.5s`."""
    if limits.invert:  # @START:END alerts inside, bounds included
        if limits.end == float("inf"):
            return "at or over %ss" % plain(limits.start)
        if limits.start == float("-inf"):
            return "at or under %ss" % plain(limits.end)
        return "inside %s..%ss" % (plain(limits.start), plain(limits.end))
    if value > limits.end:
        return "over %ss" % plain(limits.end)
    return "under %ss" % plain(limits.start)


class SkewContext(PlainScalarContext):
    """The server's clock minus ours; thresholds apply to its absolute value, none means perfdata only."""

    def __init__(self, warning, critical):
        def symmetric(limit):  # a threshold not given never alerts (an empty Range would mean 0:)
            return nagiosplugin.Range("~:" if limit is None else "%s:%s" % (plain(-limit), plain(limit)))

        super().__init__("clock_skew", symmetric(warning), symmetric(critical))
        self.given = warning is not None, critical is not None

    def evaluate(self, metric, resource):
        result = super().evaluate(metric, resource)
        if result.state != nagiosplugin.Ok:
            return self.result_cls(result.state, "server clock off by %+.3fs" % metric.value, metric)
        return result

    def performance(self, metric, resource):
        warning, critical = (plain_range(limit) if given else ""
                             for limit, given in zip((self.warning, self.critical), self.given))
        return nagiosplugin.Performance("clock_skew", plain(metric.value), "s", warning, critical)


class Summary(nagiosplugin.Summary):
    """The first line tells what happened to the main probe, then to each part that also ran (`parts`: the names of
    their outcome metrics); problems first, worst first. With --certificate-days the certificate leads: the service
    exists to say how long it has left. The long output ends with what to do about each problem."""

    def __init__(self, main_metric, details, parts=()):
        self.main_metric, self.details, self.parts = main_metric, details, parts

    def ok(self, results):
        hints = lead(results) + [results[name].hint for name in (self.main_metric, *self.parts) if name in results]
        return printable("; ".join(hint for hint in hints if hint))

    def problem(self, results):
        first = lead(results)
        hints = [r.hint for r in sorted(results, key=lambda r: r.state, reverse=True)
                 if r.state != nagiosplugin.Ok and r.hint and r.hint not in first]
        main = results[self.main_metric] if self.main_metric in results else None
        if main is not None and main.state == nagiosplugin.Ok:
            hints.insert(0, main.hint)
        return printable("; ".join(first + hints))

    def verbose(self, results):
        lines = [printable(line) for line in self.details()]
        problems = [printable(r.hint) for r in sorted(results, key=lambda r: r.state, reverse=True)
                    if r.state != nagiosplugin.Ok and r.hint]
        if problems:
            from check_pryv import advice  # a run with a problem only

            lines += advice.lines(problems)
        return lines


def lead(results):
    """The certificate's words when it was judged (--certificate-days), to come first."""
    if "certificate_days" in results and results["certificate_days"].hint:
        return [results["certificate_days"].hint]
    return []


def _watchdog(delay, service, text, deadline):
    time.sleep(delay)
    doing = deadline.doing  # what blocked in a way the alarm did not interrupt (a hung network mount, a FIFO)
    if doing:
        text += ": %s blocked" % doing()
    start.exit_with("%s UNKNOWN - %s\n" % (service, printable(text)[:200]), UNKNOWN)


def run(service, parser, build, argv=None, report=None):
    """Parse arguments, build the Check, run it within the deadline, print, exit.

    `build(args, deadline)` returns a nagiosplugin.Check, which nagiosplugin runs and prints; with `report`,
    whatever build returned goes to `report(built, args)`, which prints it and returns the exit code
    (check_pryv_platform, whose checks run in threads: nagiosplugin's Runtime is one per process).
    """
    # Icinga and Nagios end a late plugin with SIGTERM: say so on one line (start.py did it already for the
    # installed commands, before any library loaded).
    start.plugin_signals(service)
    argv = sys.argv[1:] if argv is None else argv
    # Every byte written goes through the scrubber and survives a closed or full output, from the parser's
    # first error message on: the secrets are known before the first argument is judged.
    output.install()
    if nagiosplugin.Runtime.stdout is not None:  # nagiosplugin 1.3 (Debian 12's) took sys.stdout at its import,
        nagiosplugin.Runtime.stdout = sys.stdout  # before the wrap (1.4 leaves it None: print's own sys.stdout)
    for value in parser.secrets(argv):
        secret.add(value)
    args = options.parse(parser, argv, trust=False)  # the trust store is read below, under the deadline
    if args.verbose < 3:
        warnings.simplefilter("ignore")  # a library's warning on stderr would end up in the check's output
    deadline = Deadline(args.timeout, process_age())
    # The deadline interrupts the network I/O (Deadline.alarm) so that the check reports CRITICAL with the
    # stage; the watchdog thread is the last resort, should the main thread be stuck inside C code.
    # A bare thread: threading.Timer's start() waits until the new thread runs, some 0.2 ms of every check.
    _thread.start_new_thread(_watchdog, (max(0.0, deadline.started + args.timeout + 0.1 - time.monotonic()), service,
                                         "plugin did not finish within %ds" % args.timeout, deadline))

    deadline.doing = lambda: "reading " + options.trust_source(args)
    try:
        with deadline.alarm():  # a FIFO as CA file blocks its open(): the alarm interrupts it
            options.load_trust(parser, args)
    except DeadlineExceeded:
        _finish(service, "timed out after %ds while %s" % (args.timeout, deadline.doing()), args.verbose)
    deadline.doing = None
    try:
        try:
            check = build(args, deadline)
        except options.UsageError as error:
            parser.error(str(error))
        if report:
            _leave(report(check, args))
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
    _leave(UNKNOWN)
