"""check_pryv_core: does the health account's core serve its events with the access token?

Calls `GET https://USER.DOMAIN/events?limit=1` (DNS-less: `https://HOSTNAME/USER/events?limit=1`) with the
raw access token in the `Authorization` header (Pryv 1.x rejects `Bearer`).

The token comes from --token-file FILE, else the environment variable PRYV_ACCESS_TOKEN, else --token
(which any user of the machine can read in the process list: prefer the other two). It never appears in
the output.

States: OK on 200 with an `events` list; CRITICAL when the token is rejected (invalid-access-token), the access
has expired or is not allowed (forbidden), the user is unknown (unknown-resource), on any other status, on a 200
that is not the expected JSON, and when the core cannot be reached or does not answer in time (naming the
stage); UNKNOWN without a token. Perfdata: `time` (seconds, the whole request, connection included) and
`clock_skew` (the server's `meta.serverTime` minus this machine's clock, seconds), judged on its absolute
value by --skew-warning/--skew-critical when given.
"""
import os

import nagiosplugin

from check_pryv import options, plugin
from check_pryv.client import Client, Target, TransportError

SERVICE = "PRYV_CORE"

# Pryv error ids, in the operator's words.
ERRORS = {
    "invalid-access-token": "access token rejected",
    "forbidden": "access forbidden",
    "unknown-resource": "unknown user",
    "wrong-core": "wrong core for this user",
}


class Core(nagiosplugin.Resource):
    """Measures: the core's answer to events?limit=1, how long it took, and the server's clock."""

    def __init__(self, client, target, username, token, timeout):
        self.client, self.target, self.username = client, target, username
        self.token, self.timeout = token, timeout
        self.outcome = None

    def probe(self):
        url = self.target.core_url(self.username, "events?limit=1")
        try:
            self.outcome = self.client.request("GET", url, headers={"Authorization": self.token})
        except TransportError as error:
            self.outcome = error
        yield nagiosplugin.Metric("core", self.outcome, context="core")
        yield nagiosplugin.Metric("time", plugin.perf_seconds(self.outcome.elapsed), "s", min=0,
                                  max=self.timeout, context="time")
        server_time = getattr(self.outcome, "server_time", None)
        if server_time is not None:
            # the server stamped its answer about half-way through the request
            local = self.outcome.received_at - self.outcome.elapsed / 2
            yield nagiosplugin.Metric("clock_skew", plugin.perf_seconds(server_time - local), "s",
                                      context="clock_skew")


class CoreContext(nagiosplugin.Context):
    """Judges the events answer."""

    def __init__(self):
        super().__init__("core")

    def evaluate(self, metric, resource):
        answer = metric.value
        if isinstance(answer, TransportError):
            return self.result_cls(nagiosplugin.Critical, str(answer), metric)
        body = answer.json
        if answer.status == 200 and isinstance(body, dict) and isinstance(body.get("events"), list):
            version = answer.api_version
            return self.result_cls(nagiosplugin.Ok, "events answered 200 in %.3fs%s" % (
                answer.elapsed, " (API %s)" % version if version else ""), metric)
        if answer.status == 200 and not answer.capped:
            return self.result_cls(nagiosplugin.Critical, "core answered 200 without an events list: %s"
                                   % answer.body_excerpt(), metric)
        error = answer.pryv_error
        if error and error[0] in ERRORS:
            return self.result_cls(nagiosplugin.Critical, "%s (%d %s)%s" % (
                ERRORS[error[0]], answer.status, error[0], ": " + error[1] if error[1] else ""), metric)
        return self.result_cls(nagiosplugin.Critical, "core answered %s" % answer.problem(), metric)


def read_token(args):
    """The access token from --token-file, PRYV_ACCESS_TOKEN or --token, in that order."""
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as stream:  # a token is short: never read a whole disk
                token, source = stream.read(4096).strip(), "token file %s" % args.token_file
        except (OSError, UnicodeDecodeError) as error:
            raise options.UsageError("cannot read the token file %s: %s" % (
                args.token_file, getattr(error, "strerror", None) or "not text"))
    elif os.environ.get("PRYV_ACCESS_TOKEN") is not None:
        token, source = os.environ["PRYV_ACCESS_TOKEN"].strip(), "PRYV_ACCESS_TOKEN"
    elif args.token is not None:
        token, source = args.token.strip(), "--token"
    else:
        raise options.UsageError("no access token: give --token-file FILE or set PRYV_ACCESS_TOKEN")
    if not token:
        raise options.UsageError("the access token from %s is empty" % source)
    if any(c.isspace() or not c.isprintable() or not c.isascii() for c in token):
        raise options.UsageError("the access token from %s contains spaces, control or non-ASCII characters"
                                 % source)
    return token


def make_parser():
    parser = options.Parser(SERVICE, prog="check_pryv_core", description=__doc__)
    options.add_platform_options(parser)
    group = parser.add_argument_group("access token")
    group.add_argument("--token-file", metavar="FILE",
                       help="read the access token from FILE (one line; keep it mode 0600)")
    group.add_argument("--token", metavar="TOKEN",
                       help="the access token itself: VISIBLE IN THE PROCESS LIST, prefer --token-file "
                            "or the PRYV_ACCESS_TOKEN environment variable")
    parser.secret_options.append("--token")
    parser.secret_variables.append("PRYV_ACCESS_TOKEN")
    options.add_connection_options(parser)
    limits = options.add_limit_options(parser)
    limits.add_argument("--skew-warning", type=options.seconds, metavar="SECONDS",
                        help="WARNING when the server's clock is off by more than SECONDS")
    limits.add_argument("--skew-critical", type=options.seconds, metavar="SECONDS",
                        help="CRITICAL when the server's clock is off by more than SECONDS")
    return parser


def build(args, deadline, secrets):
    token = read_token(args)
    secrets.append(token)
    target = Target(domain=args.domain, hostname=args.hostname, scheme=args.scheme, port=args.port)
    client = Client(deadline, address=args.address, ca_cert=args.ca_cert, insecure=args.insecure)
    resource = Core(client, target, args.username, token, args.timeout)
    return nagiosplugin.Check(resource, CoreContext(),
                              plugin.TimeContext(args.warning, args.critical),
                              plugin.SkewContext(args.skew_warning, args.skew_critical),
                              plugin.Summary("core", lambda: resource.outcome.details()))


def main(argv=None):
    plugin.run(SERVICE, make_parser(), build, argv)


if __name__ == "__main__":
    main()
