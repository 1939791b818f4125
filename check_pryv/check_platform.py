"""check_pryv_platform: which part of the Pryv.io platform is broken? Every check at once, in one process.

Takes the platform once (-D/--domain or -H/--hostname, and the connection and token options of
check_pryv_core) and runs the checks of the other plugins concurrently, each in its own thread, all within
the one --timeout. Each check is the very Resource, Contexts and Summary its plugin runs:

  dns           check_pryv_dns (DNS mode only: --dns-server, --dns-port are its --server, --port)
  register      check_pryv_register: the register still knows the health account
  hostings      check_pryv_register --hostings
  service-info  check_pryv_register --service-info
  auth-request  check_pryv_register --auth-request: an app sign-in request, stored and polled
  core          check_pryv_core: the core serves the account's events with the token
  write         check_pryv_core --write: the core saves a value and gives it back
  series        check_pryv_core --series: the HFS writes a series point and gives it back
  attachment    check_pryv_core --attachment: the file storage keeps an attachment and serves it back
  notifications check_pryv_core --notifications: socket.io tells a client of a change
                (write, series, attachment and notifications: the core's parts, after core in its thread, one
                after the other, as check_pryv_core runs them: they share the check event)
  certificate   the server certificate the register's service/info call got, judged as --certificate-days does
                (HTTPS only)

By default every check that applies to the platform runs: dns only in DNS mode, certificate only over HTTPS,
series only when service/info does not say noHF, notifications only with python-socketio installed, and the
core's parts only when asked (--write, --series, --attachment, --notifications, or named in --checks) or when the
access may write to --write-stream (access-info says contribute or manage on it or on *); the table says why a
check did not run. Asking for a part of the core runs core too. An unknown name in --checks is UNKNOWN, naming it.

First line: `PRYV_PLATFORM <worst state> - ` and the checks that are not OK with their reason, worst first
(CRITICAL, then UNKNOWN, then WARNING), or how many checks are OK. Perfdata: each check's perfdata with its
label prefixed by the check's name (`core_time`, `service_info_time`), and `time`, the seconds all the checks
took together. Then a table: check, state, seconds, message (colours on a terminal, never with NO_COLOR);
-v adds each check's details. --json prints instead {"state", "seconds", "checks": [{"name", "state",
"seconds", "message", "perfdata"}], "not_run": [{"name", "reason"}]}.

Exit code: the worst state; UNKNOWN when no check could run, on a usage error, or when a check could not judge
(no access token for core, say) and none is CRITICAL.
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys
import threading
import time

import nagiosplugin

from check_pryv import check_core, options, plugin, probe, secret
from check_pryv.client import Answer, TransportError
from check_pryv.deadline import DeadlineExceeded

SERVICE = "PRYV_PLATFORM"
# How the first line ranks the checks' states: a broken part (CRITICAL) before a check that could not judge.
SEVERITY = {nagiosplugin.Ok: 0, nagiosplugin.Warn: 1, nagiosplugin.Unknown: 2, nagiosplugin.Critical: 3}
COLOURS = {nagiosplugin.Ok: "32", nagiosplugin.Warn: "33", nagiosplugin.Unknown: "35", nagiosplugin.Critical: "31"}
# The checks' deadline comes this much before the run's: time for their threads to word their own time-outs (a
# few exceptions through requests' wrappers each, at once, on a busy machine), and the main thread's to print.
EARLY = 0.2


# ---- the checks: each makes its plugin's Check from the values parsed here


def dns_check(run):
    from check_pryv import check_dns  # DNS mode only

    args = run.args
    servers = (options.of_family(args.dns_server, args.family, "--dns-server") if args.dns_server
               else check_dns.system_servers(args.family))
    return check_dns.make_check("%s.%s" % (args.username, args.domain), servers, args.dns_port, "A", None,
                                args.warning, args.critical, run.deadline)


def register_question(run, resource, contexts):
    """A question to the register, as check_pryv_register makes its Check (no --certificate-days: the certificate
    check judges it)."""
    from check_pryv import check_register

    return check_register.make_check(resource, contexts, None, run.args.warning, run.args.critical)


def register_check(run):
    from check_pryv import check_register

    return register_question(run, *check_register.username_question(run.client, run.target, run.args.username, False))


def hostings_check(run):
    from check_pryv import register_info

    return register_question(run, *register_info.hostings_question(run.client, run.target, [], False))


def service_info_check(run):
    from check_pryv import register_info

    resource, contexts = register_info.service_info_question(run.client, run.target, False)
    run.resources["service-info"] = resource  # series reads its answer (noHF)
    return register_question(run, resource, contexts)


def auth_request_check(run):
    from check_pryv import auth_request

    return register_question(run, *auth_request.question(run.args, run.client, run.target, False))


def core_check(run):
    resource, contexts = check_core.events_question(run.client, run.target, run.args.username, run.token,
                                                    run.args.warning, run.args.critical)
    run.resources["core"] = resource  # the write path reads its outcome
    return nagiosplugin.Check(resource, *contexts, plugin.Summary("core", resource.details))


def core_part(run, name):
    """A part of the core (check_core.PARTS: write, series...), as check_pryv_core runs it after its events call."""
    part = importlib.import_module(dict(check_core.PARTS)[name])
    resource = part.resource(run.client, run.target, run.args.username, run.token, run.args, run.resources["core"])
    return nagiosplugin.Check(resource, *part.contexts(run.args), plugin.Summary(part.METRIC, resource.details))


def write_refusal(run):
    """Why a default run leaves out a check that writes to --write-stream: asked once per run (access-info)."""
    with run.lock:
        if "refusal" not in run.resources:
            from check_pryv import write

            run.resources["refusal"] = write.refusal(run.client, run.target, run.args.username, run.token,
                                                     run.args.write_stream)
        return run.resources["refusal"]


def no_hf(run):
    """Why a default run leaves series out: service/info says features.noHF (a platform without an HFS). Its
    answer is the service-info check's when that runs (waited for), else asked here."""
    if "service-info" in run.checks:
        run.rows["service-info"].done.wait(max(0.0, run.deadline.expires - time.monotonic()))
        answer = run.resources["service-info"].outcome
    else:
        try:
            answer = run.client.request("GET", run.target.register_url("service/info"))
        except TransportError:
            answer = None  # series, tried, says what fails
    info = answer.json if isinstance(answer, Answer) and answer.status == 200 else None
    features = info.get("features") if isinstance(info, dict) else None
    if isinstance(features, dict) and features.get("noHF") is True:
        return "service/info says noHF (no HFS on this platform)"
    return write_refusal(run)


def without_socketio(run):
    """Why a default run leaves notifications out: its client, python-socketio, is not installed (asked for, the
    check is UNKNOWN and says how to install it)."""
    if importlib.util.find_spec("socketio") is None:
        return "python-socketio not installed"
    return write_refusal(run)


class ReachedContext(nagiosplugin.Context):
    """The certificate check's call: OK once the server answered at all (its certificate is what is judged)."""

    def __init__(self):
        super().__init__("certificate")

    def evaluate(self, metric, resource):
        if isinstance(metric.value, TransportError):
            return self.result_cls(nagiosplugin.Critical, str(metric.value), metric)
        return self.result_cls(nagiosplugin.Ok, None, metric)


class CertificateSummary(plugin.Summary):
    """OK: whose certificate, and the days it has left."""

    def ok(self, results):
        resource = results["certificate"].resource
        if "certificate_days" not in results or resource.certificate is None:
            return "no certificate"
        return "certificate of %s ends in %s days (%s)" % (
            resource.url.split("/")[2].split(":")[0], plugin.plain(results["certificate_days"].metric.value),
            resource.certificate.not_after.strftime("%Y-%m-%d"))


def certificate_check(run):
    resource = probe.Call("certificate", run.client, run.target.register_url("service/info"), certificate_days=True)
    return nagiosplugin.Check(resource, ReachedContext(), probe.CertificateContext(*run.args.certificate_days),
                              plugin.TimeContext(run.args.warning, run.args.critical),
                              CertificateSummary("certificate", resource.details))


def dns_less(run):
    return "DNS-less mode (no DNS of its own)" if not run.args.domain else None


def plain_http(run):
    return "plain HTTP (no certificate)" if run.args.scheme != "https" else None


class Part:
    """One check of the platform. `make(run)` returns its nagiosplugin.Check; `applies(run)` says why it does not
    apply to this platform (None: it does); `after` names the check it runs after, in that check's thread (asking
    for it asks for that one too); `token`: it needs the access token; `unless_asked(run)`, run in its thread, says
    why a default run leaves it out (None: it runs)."""

    def __init__(self, name, make, applies=None, after=None, token=False, unless_asked=None):
        self.name, self.make, self.applies, self.after = name, make, applies, after
        self.token, self.unless_asked = token, unless_asked


# Adding a check is one entry here (in the order of the table).
PARTS = {part.name: part for part in (
    Part("dns", dns_check, applies=dns_less),
    Part("register", register_check),
    Part("hostings", hostings_check),
    Part("service-info", service_info_check),
    Part("auth-request", auth_request_check),
    Part("core", core_check, token=True),
    *(Part(name, lambda run, name=name: core_part(run, name), after="core", token=True, unless_asked=unless_asked)
      for name, unless_asked in (("write", write_refusal), ("series", no_hf), ("attachment", write_refusal),
                                 ("notifications", without_socketio))),
    Part("certificate", certificate_check, applies=plain_http),
)}


# ---- running them


class Row:
    """One check's line of the table: its result (state, message, seconds, perfdata, details) once it has one,
    or why it did not run; `done` is set once either is known."""

    def __init__(self, name):
        self.name, self.result, self.not_run, self.done = name, None, None, threading.Event()
        self.started = False

    def set(self, state, message, seconds, perfdata=(), details=()):
        self.result = (state, plugin.printable(message or ""), seconds, list(perfdata), list(details))
        self.done.set()

    def skip(self, reason):
        self.not_run = reason
        self.done.set()

    @property
    def failed(self):
        return self.result is not None and self.result[0] in (nagiosplugin.Critical, nagiosplugin.Unknown)


class Run:
    """One run of check_pryv_platform: the platform, the token, the checks and their rows."""

    def __init__(self, args, deadline):
        self.args, self.run_deadline, self.deadline = args, deadline, deadline.earlier(EARLY)
        self.target, self.client = probe.platform(args, self.deadline)
        self.token = self.token_problem = None
        try:
            self.token = check_core.read_token(args)
            secret.add(self.token)
        except options.UsageError as error:
            self.token_problem = str(error)
        self.resources, self.rows, self.checks, self.lock = {}, {}, {}, threading.Lock()
        self.seconds = 0.0

    def plan(self):
        """Make the Check of each check to run (the checks a check runs after first)."""
        explicit = self.args.checks
        asked = set(explicit or ()) | {name for name, _ in check_core.PARTS if getattr(self.args, name)}
        for name in list(asked):  # a check run after another asks for that one too
            while PARTS[name].after:
                name = PARTS[name].after
                asked.add(name)
        for part in PARTS.values():
            if explicit and part.name not in asked:
                continue
            row = self.rows[part.name] = Row(part.name)
            reason = part.applies(self) if part.applies else None
            if reason and part.name in asked:
                raise options.UsageError("--checks %s does not apply: %s" % (part.name, reason))
            if not reason and part.token and not self.token and part.unless_asked and part.name not in asked:
                reason = "no access token"
            if not reason and part.after and part.after not in self.checks:
                reason = "not tried: %s did not run" % part.after
            if reason:
                row.skip(reason)
            elif part.token and not self.token:
                row.set(nagiosplugin.Unknown, self.token_problem, 0.0)
            else:
                self.checks[part.name] = part.name in asked  # made in its thread, once it runs (imports included)

    def run(self):
        """Each check in a thread of its own, those that run after another once it is done; stop waiting at the
        deadline."""
        started = time.monotonic()
        for name in self.checks:
            if not PARTS[name].after:
                self.start(name)
        for name in self.checks:
            self.rows[name].done.wait(max(0.0, self.run_deadline.expires - time.monotonic()))
        self.seconds = time.monotonic() - started
        for name in self.checks:  # in the table's order: a check after one that did not finish was not tried
            row, after = self.rows[name], PARTS[name].after
            if not row.done.is_set():
                if after and not self.rows[after].result:
                    row.skip("not tried: %s did not finish" % after)
                elif not row.started:  # its turn after the other parts of its thread never came
                    row.skip("not tried: no time left")
                else:
                    row.set(nagiosplugin.Critical, "did not finish within %ds" % self.args.timeout, self.seconds)
        return self

    def start(self, name):
        threading.Thread(target=self.run_check, args=(name,), daemon=True).start()

    def run_check(self, name):
        """Run one check and record its row; then run the checks that run after it, one after the other (the core's
        parts share the check event, as in check_pryv_core), or say why they do not."""
        asked, part, row = self.checks[name], PARTS[name], self.rows[name]
        row.started, started = True, time.monotonic()
        try:
            reason = None if asked or not part.unless_asked else part.unless_asked(self)
            if reason:
                row.skip("%s (--%s runs it)" % (reason, name))  # only the core's parts are left out unless asked
            else:
                check = part.make(self)
                check()
                row.set(check.state, check.summary_str, time.monotonic() - started, check.perfdata,
                        check.verbose_str if self.args.verbose else ())
        except options.UsageError as error:  # a check that cannot run here (no name server for dns, say)
            row.set(nagiosplugin.Unknown, str(error), 0.0)
        except DeadlineExceeded:
            row.set(nagiosplugin.Critical, "timed out after %.1fs" % (time.monotonic() - started),
                    time.monotonic() - started)
        except Exception as error:  # a bug of ours: this check is UNKNOWN, the others still report
            row.set(nagiosplugin.Unknown, "internal error: %s: %s" % (type(error).__name__, error),
                    time.monotonic() - started)
        for after in (other for other in self.checks if PARTS[other].after == name):
            if row.failed or row.not_run:
                self.skip_after(after, "not tried: %s %s" % (name, "failed" if row.failed else "did not run"))
            else:
                self.run_check(after)

    def skip_after(self, name, reason):
        self.rows[name].skip(reason)
        for after in (other for other in self.checks if PARTS[other].after == name):
            self.skip_after(after, reason)


def build(args, deadline):
    run = Run(args, deadline)
    run.plan()
    return run.run()


# ---- the output


def prefixed(name, perfdata):
    """A check's perfdata with its label prefixed by the check's name (`core_time`; quoted labels stay quoted)."""
    prefix = name.replace("-", "_") + "_"
    return "'" + prefix + perfdata[1:] if perfdata.startswith("'") else prefix + perfdata


def worst(rows):
    """The worst state of the checks that ran, and those that are not OK, worst first; None when none ran."""
    ran = [row for row in rows if row.result]
    if not ran:
        return None, []
    state = max((row.result[0] for row in ran), key=SEVERITY.get)
    problems = sorted((row for row in ran if row.result[0] != nagiosplugin.Ok),
                      key=lambda row: -SEVERITY[row.result[0]])
    return state, problems


def status_line(run, state, problems):
    rows = list(run.rows.values())
    if state is None:
        text = "no check could run: " + "; ".join("%s: %s" % (row.name, row.not_run) for row in rows)
    elif problems:
        text = "; ".join("%s: %s" % (row.name, row.result[1] or str(row.result[0]).upper()) for row in problems)
    else:
        ran = [row.name for row in rows if row.result]
        text = "%d check%s OK: %s" % (len(ran), "s" * (len(ran) > 1), ", ".join(ran))
    perfdata = [prefixed(row.name, p) for row in rows if row.result for p in row.result[3]]
    perfdata.append("time=%ss;;;0;%d" % (plugin.plain(plugin.perf_seconds(run.seconds)), run.args.timeout))
    return "%s %s - %s | %s" % (SERVICE, str(state or nagiosplugin.Unknown).upper(), plugin.printable(text),
                                " ".join(perfdata))


def table(run, colour):
    """The table's lines; with `colour`, a row that ran is (its start, the state's colour, the state, its end)."""
    rows = list(run.rows.values())
    width = max(len("check"), *(len(row.name) for row in rows))
    lines = ["%-*s  %-8s  %7s  %s" % (width, "check", "state", "seconds", "message")]
    for row in rows:
        if row.result:
            state, message, seconds = row.result[:3]
            start, shown, end = "%-*s  " % (width, row.name), "%-8s" % str(state).upper(), "  %7.3f  %s" % (
                seconds, message)
            lines.append((start, COLOURS[state], shown, end) if colour else start + shown + end)
        else:
            lines.append("%-*s  %-8s  %7s  %s" % (width, row.name, "not run", "-", plugin.printable(row.not_run)))
    for row in rows:
        if row.result and row.result[4]:
            lines += ["", "%s:" % row.name] + ["  " + line for line in row.result[4]]
    return lines


def as_json(run, state):
    return json.dumps({
        "state": str(state or nagiosplugin.Unknown).upper(), "seconds": plugin.perf_seconds(run.seconds),
        "checks": [{"name": row.name, "state": str(row.result[0]).upper(), "message": row.result[1],
                    "seconds": plugin.perf_seconds(row.result[2]), "perfdata": row.result[3]}
                   for row in run.rows.values() if row.result],
        "not_run": [{"name": row.name, "reason": plugin.printable(row.not_run)}
                    for row in run.rows.values() if row.not_run]}, indent=2)


def report(run, args):
    """Print the result; return the exit code."""
    state, problems = worst(run.rows.values())
    if args.json:
        sys.stdout.write(as_json(run, state) + "\n")
    else:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        # the colours are ours: past the output's filter, which turns every ESC into `?` (output.Stream)
        raw = getattr(sys.stdout, "write_raw", sys.stdout.write)
        for line in [status_line(run, state, problems)] + table(run, colour):
            if isinstance(line, tuple):
                start, sgr, shown, line = line
                sys.stdout.write(start)
                raw("\033[%sm" % sgr)
                sys.stdout.write(shown)
                raw("\033[0m")
            sys.stdout.write(line + "\n")
    return int(state.code) if state is not None else options.UNKNOWN


# ---- the options


def check_names(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no check named (known: %s)" % ", ".join(PARTS))
    for name in names:
        if name not in PARTS:
            shown = repr(name) if options.made_of(name, options.LABEL_CHARACTERS, 20) else "(a name not shown)"
            raise argparse.ArgumentTypeError("unknown check %s (known: %s)" % (shown, ", ".join(PARTS)))
    return list(dict.fromkeys(names))


def make_parser():
    parser = options.Parser(SERVICE, prog="check_pryv_platform", description=__doc__)
    options.add_platform_options(parser)
    check_core.add_token_options(parser)
    options.add_family_options(options.add_connection_options(parser))
    group = parser.add_argument_group("DNS (DNS mode: the dns check)")
    group.add_argument("--dns-server", type=options.ip_address, action="append", metavar="ADDR",
                       help="ask this name server (repeatable; default: those of /etc/resolv.conf)")
    group.add_argument("--dns-port", type=options.port_number, default=53, metavar="PORT",
                       help="default: %(default)s")
    group = parser.add_argument_group("checks")
    group.add_argument("--checks", type=check_names, metavar="LIST",
                       help="comma-separated checks to run, of: %s (default: every one that applies)"
                            % ", ".join(PARTS))
    group.add_argument("--json", action="store_true",
                       help="print the result as JSON instead of the status line and the table")
    limits = options.add_limit_options(parser)
    limits.add_argument("--certificate-days", type=options.day_limits, default=(14.0, 7.0), metavar="WARN[,CRIT]",
                        help="the certificate check: WARNING when the certificate has less than WARN days left, "
                             "CRITICAL below CRIT (default: 14,7)")
    check_core.add_write_options(parser)
    check_core.add_notifications_option(parser)
    return parser


def main(argv=None):
    plugin.run(SERVICE, make_parser(), build, argv, report)


if __name__ == "__main__":
    main()
