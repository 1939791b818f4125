"""check_pryv_core: does the health account's core serve its events with the access token?

Calls `GET https://USER.DOMAIN/events?limit=1` (DNS-less: `https://HOSTNAME/USER/events?limit=1`) with the
raw access token in the `Authorization` header: both Pryv 1.x and 2.x accept it (2.x also takes `Bearer TOKEN`,
1.x does not).

The token comes from --token-file FILE, else the environment variable PRYV_ACCESS_TOKEN, else --token
(which any user of the machine can read in the process list: prefer the other two). It never appears in
the output.

States: OK on 200 with an `events` list; CRITICAL when the token is rejected (invalid-access-token), the access
has expired or is not allowed (forbidden), the user is unknown (unknown-resource), on any other status, on a 200
that is not the expected JSON, and when the core cannot be reached or does not answer in time (naming the
stage); UNKNOWN without a token. Perfdata: `time` (seconds, the whole request, connection included) and
`clock_skew` (the server's `meta.serverTime` minus this machine's clock, seconds), judged on its absolute
value by --skew-warning/--skew-critical when given.

With --expect-api-version PREFIX: WARNING when the core reports another API version (`1.9` matches 1.9.3-open,
not 1.10.0). With --certificate-days WARN[,CRIT], the certificate the call got is judged too (perfdata
certificate_days).

With --write, the core must also save data: one event of the stream --write-stream (default check-pryv), made
on the first run, gets a fresh value that is read back (details in docs/plugins.rst, "The write path"). The access
needs contribute or manage on that stream (manage to create it). CRITICAL when a write is refused (the
platform's error id and message), when the value read back differs, and when someone deleted or trashed the
event (created again or restored, and said). Perfdata write_time and read_time; --write-warning and
--write-critical judge write_time.

With --series, the HFS too: one event of type series:mass/kg in that stream gets a fresh point (always at
deltaTime 0: the series never grows), read back through the public API; perfdata series_time. With --attachment, the
file storage: a few fresh bytes are attached to the --write event, read back with the attachment's read token (a
secret, never printed) and compared, and the previous attachment removed; perfdata attachment_time. Each is CRITICAL
when refused (the platform's error), when what comes back differs, and when it does not answer within -t (naming
the step and the stage). The options combine; all share the one -t; each adds its lines to -v output.
"""
import argparse
import importlib
import os

import nagiosplugin

from check_pryv import options, plugin, probe, safefile, secret
from check_pryv.client import Answer

SERVICE = "PRYV_CORE"

# Pryv error ids, in the operator's words.
ERRORS = {
    "invalid-access-token": "access token rejected",
    "forbidden": "access forbidden",
    "unknown-resource": "unknown user",
    "wrong-core": "wrong core for this user",
}


class Core(probe.Call):
    """Measures: the core's answer to events?limit=1, how long it took, the server's clock, and when asked the
    certificate's days left and the API version."""

    def __init__(self, client, target, username, token, certificate_days=False, api_version=False):
        super().__init__("core", client, target.core_url(username, "events?limit=1"),
                         headers={"Authorization": token}, certificate_days=certificate_days)
        self.api_version = api_version

    def probe(self):
        yield from super().probe()
        server_time = getattr(self.outcome, "server_time", None)
        if server_time is not None:
            # the server stamped its answer about half-way through the request
            local = self.outcome.received_at - self.outcome.elapsed / 2
            yield nagiosplugin.Metric("clock_skew", plugin.perf_seconds(server_time - local), "s",
                                      context="clock_skew")
        # the version of any answer that tells one, and the lack of it on a 200
        if self.api_version and isinstance(self.outcome, Answer) and (
                self.outcome.api_version or self.outcome.status == 200):
            yield nagiosplugin.Metric("api_version", self.outcome.api_version, context="api_version")


class CoreContext(probe.AnswerContext):
    """Judges the events answer."""

    who, expected = "core", "an events list"

    def __init__(self):
        super().__init__("core")

    def judge(self, answer, resource):
        body = answer.json
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            return None
        version = answer.api_version
        return nagiosplugin.Ok, "events answered 200 in %s%s" % (
            plugin.shown_seconds(answer.elapsed), " (API %s)" % version if version else "")

    def problem(self, answer):
        error = answer.pryv_error
        if error and error[0] in ERRORS:
            return "%s (%d %s)%s" % (ERRORS[error[0]], answer.status, error[0], ": " + error[1] if error[1] else "")
        return super().problem(answer)


def version_matches(version, prefix):
    """Whether `version` starts with `prefix` at a component's end: 1.9 matches 1.9.3-open, 1.1 not 1.10.0."""
    if not version.startswith(prefix):
        return False
    rest = version[len(prefix):]
    return not rest or not (prefix[-1].isdigit() and rest[0].isdigit())


class ApiVersionContext(nagiosplugin.Context):
    """WARNING when the core reports another API version than --expect-api-version (or none)."""

    def __init__(self, prefix):
        super().__init__("api_version")
        self.prefix = prefix

    def evaluate(self, metric, resource):
        if metric.value and version_matches(metric.value, self.prefix):
            return self.result_cls(nagiosplugin.Ok, None, metric)
        return self.result_cls(nagiosplugin.Warn, "core reports %s, expected %s" % (
            "API %s" % metric.value if metric.value else "no API version", self.prefix), metric)


def api_version_prefix(text):
    if not 0 < len(text) <= 40 or not secret.is_word(text):
        raise argparse.ArgumentTypeError("invalid version prefix %r: up to 40 characters, no spaces" % text)
    return text


def read_token(args):
    """The access token from --token-file, PRYV_ACCESS_TOKEN or --token, in that order."""
    if args.token_file:
        try:
            token, source = safefile.read(args.token_file).strip(), "token file %s" % args.token_file
        except (OSError, UnicodeDecodeError) as error:
            raise options.UsageError("cannot read the token file %s: %s%s" % (
                args.token_file, getattr(error, "strerror", None) or "not text",
                safefile.whose(args.token_file, error)))
    elif os.environ.get("PRYV_ACCESS_TOKEN") is not None:
        token, source = os.environ["PRYV_ACCESS_TOKEN"].strip(), "PRYV_ACCESS_TOKEN"
    elif args.token is not None:
        token, source = args.token.strip(), "--token"
    else:
        raise options.UsageError("no access token: give --token-file FILE or set PRYV_ACCESS_TOKEN")
    if not token:
        raise options.UsageError("the access token from %s is empty" % source)
    problem = secret.token_problem(token)
    if problem:
        raise options.UsageError("the access token from %s is refused: %s" % (source, problem))
    return token


def make_parser():
    parser = options.Parser(SERVICE, prog="check_pryv_core", description=__doc__)
    options.add_platform_options(parser)
    add_token_options(parser)
    options.add_family_options(options.add_connection_options(parser))
    limits = options.add_limit_options(parser)
    limits.add_argument("--skew-warning", type=options.seconds, metavar="SECONDS",
                        help="WARNING when the server's clock is off by more than SECONDS")
    limits.add_argument("--skew-critical", type=options.seconds, metavar="SECONDS",
                        help="CRITICAL when the server's clock is off by more than SECONDS")
    options.add_certificate_option(limits)
    options.add_extended_perfdata_option(limits)
    limits.add_argument("--expect-api-version", type=api_version_prefix, metavar="PREFIX",
                        help="WARNING when the API version the core reports does not start with PREFIX "
                             "(whole components: 1.9 matches 1.9.3-open, not 1.10.0)")
    add_write_options(parser)
    add_notifications_option(parser)
    return parser


def add_token_options(parser):
    """--token-file and --token (and PRYV_ACCESS_TOKEN), known to the parser as secrets; read by read_token."""
    group = parser.add_argument_group("access token")
    group.add_argument("--token-file", metavar="FILE",
                       help="read the access token from FILE (one line; keep it mode 0600)")
    group.add_argument("--token", metavar="TOKEN",
                       help="the access token itself: VISIBLE IN THE PROCESS LIST, prefer --token-file "
                            "or the PRYV_ACCESS_TOKEN environment variable")
    parser.secret_options.append("--token")
    parser.secret_files.append("--token-file")
    parser.secret_variables.append("PRYV_ACCESS_TOKEN")
    return group


# The platform parts a core check can also exercise, each asked by its option (the first of the pair) and run by its
# module (the second), imported only when the option is given: a default run loads none of them. A part's module
# offers the same three things:
#
#   METRIC          the name of its outcome metric, whose words join the status line after the events call's;
#   resource(client, target, username, token, args, events_read)
#                   a nagiosplugin.Resource that measures the part after the events call (`events_read`, the Core
#                   resource: a part skips itself when that call failed, which already says what is wrong); its
#                   details() gives the part's lines of -v output;
#   contexts(args)  the Contexts that judge its metrics.
#
# The parts run in this order, through the one client, so within the one deadline. Their options are added to the
# parser here (add_write_options...), so that --help lists them without loading the modules.
PARTS = (("write", "check_pryv.write"), ("series", "check_pryv.series"), ("attachment", "check_pryv.attachment"),
         ("notifications", "check_pryv.notifications"))


def add_write_options(parser):
    """--write and its settings; check_pryv.write, which runs the write path, loads only with --write."""
    group = parser.add_argument_group("write path (--write)")
    group.add_argument("--write", action="store_true",
                       help="also check that the core saves data: update one event of --write-stream with a fresh "
                            "value and read it back (created on the first run; nothing grows). The access needs "
                            "contribute or manage on that stream (manage to create it: check_pryv_setup's access "
                            "has manage on *)")
    group.add_argument("--write-stream", type=stream_id, default=options.WRITE_STREAM, metavar="ID",
                       help="the stream that holds the event, and those of --series and --attachment "
                            "(default: %(default)s)")
    group.add_argument("--write-warning", type=options.threshold_range, metavar="RANGE",
                       help="WARNING when write_time in seconds is outside RANGE (Nagios range syntax)")
    group.add_argument("--write-critical", type=options.threshold_range, metavar="RANGE",
                       help="CRITICAL when write_time in seconds is outside RANGE (Nagios range syntax)")
    parts = parser.add_argument_group("high-frequency series and file storage (--series, --attachment)")
    parts.add_argument("--series", action="store_true",
                       help="also check the HFS: write a fresh point to one series event of --write-stream and read "
                            "it back (the same point rewritten: the series never grows); perfdata series_time")
    parts.add_argument("--attachment", action="store_true",
                       help="also check the file storage: upload a small attachment to the event of --write-stream, "
                            "read it back with its read token, compare size and sha256, remove the previous one (at "
                            "most two exist); perfdata attachment_time")
    return group


def add_notifications_option(parser):
    """--notifications; check_pryv.notifications, and python-socketio, load only with it."""
    parser.add_argument_group("notifications (--notifications)").add_argument(
        "--notifications", action="store_true",
        help="also check socket.io notifications: join the user's namespace over WebSocket as the official JS client "
             "does, change the event of --write-stream, and expect eventsChanged within the deadline (needs "
             "python-socketio: pip install 'check_pryv[notifications]', or Debian's python3-socketio)")


def stream_id(text):
    """A stream id that every Pryv.io version takes: lower-case letters, digits and '-', up to 100. Its default
    is checked on every run: a set of characters (options.is_stream_id), not a pattern to compile."""
    if not options.is_stream_id(text):
        raise argparse.ArgumentTypeError("invalid stream id %r: lower-case letters, digits and '-', up to 100" % text)
    return text


def build(args, deadline):
    token = read_token(args)
    secret.add(token)
    certificate_days = options.certificate_days(args)
    target, client = probe.platform(args, deadline)
    resource, contexts = events_question(client, target, args.username, token, args.warning, args.critical,
                                         args.skew_warning, args.skew_critical, certificate_days,
                                         args.expect_api_version, args.extended_perfdata)
    parts = [importlib.import_module(module) for option, module in PARTS if getattr(args, option)]
    if not parts:
        return nagiosplugin.Check(resource, *contexts, plugin.Summary("core", resource.details))
    measured = [resource] + [part.resource(client, target, args.username, token, args, resource) for part in parts]
    judging = contexts + [context for part in parts for context in part.contexts(args)]

    def details():  # the events call's lines, then each part's
        return [line for measure in measured for line in measure.details()]

    return nagiosplugin.Check(*measured, *judging, plugin.Summary("core", details, [part.METRIC for part in parts]))


def events_question(client, target, username, token, warning, critical, skew_warning=None, skew_critical=None,
                    certificate_days=None, api_version=None, extended_perfdata=False):
    """The Resource of the events call, and the Contexts that judge it, from parsed values: this plugin's, and
    check_pryv_platform's core."""
    resource = Core(client, target, username, token, bool(certificate_days), bool(api_version))
    contexts = [CoreContext(), plugin.TimeContext(warning, critical), plugin.SkewContext(skew_warning, skew_critical)]
    contexts += probe.phase_contexts(extended_perfdata, resource)
    if certificate_days:
        contexts.append(probe.CertificateContext(*certificate_days))
    if api_version:
        contexts.append(ApiVersionContext(api_version))
    return resource, contexts


def main(argv=None):
    plugin.run(SERVICE, make_parser(), build, argv)


if __name__ == "__main__":
    main()
