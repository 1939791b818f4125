"""check_pryv_register: does the register answer, and does it still know the health account?

Calls `GET https://reg.DOMAIN/USER/check_username` (DNS-less: `https://HOSTNAME/reg/USER/check_username`).

States: OK on 200 `"reserved": true` (the register answers and knows the account); WARNING on 200
`"reserved": false` (it answers but has lost the account: the core check fails next); CRITICAL on any other
status (with Pryv's error id and message, or the start of the body), and when the register cannot be reached
or does not answer in time (naming the stage: resolve, connect, TLS, response, body).
Perfdata: `time` (seconds, the whole request, connection included).
"""
import nagiosplugin

from check_pryv import options, plugin
from check_pryv.client import Client, Target, TransportError

SERVICE = "PRYV_REGISTER"


class Register(nagiosplugin.Resource):
    """Measures: the register's answer to check_username, and how long it took."""

    def __init__(self, client, target, username, timeout):
        self.client, self.target, self.username, self.timeout = client, target, username, timeout
        self.outcome = None

    def probe(self):
        url = self.target.register_url("%s/check_username" % self.username)
        try:
            self.outcome = self.client.request("GET", url)
        except TransportError as error:
            self.outcome = error
        yield nagiosplugin.Metric("register", self.outcome, context="register")
        yield nagiosplugin.Metric("time", plugin.perf_seconds(self.outcome.elapsed), "s", min=0,
                                  max=self.timeout, context="time")


class RegisterContext(nagiosplugin.Context):
    """Judges the check_username answer."""

    def __init__(self, username):
        super().__init__("register")
        self.username = username

    def evaluate(self, metric, resource):
        answer = metric.value
        if isinstance(answer, TransportError):
            return self.result_cls(nagiosplugin.Critical, str(answer), metric)
        body = answer.json
        if answer.status == 200 and isinstance(body, dict) and isinstance(body.get("reserved"), bool):
            if body["reserved"]:
                return self.result_cls(nagiosplugin.Ok, "register knows %s (200 in %.3fs)"
                                       % (self.username, answer.elapsed), metric)
            return self.result_cls(nagiosplugin.Warn, "register answers but no longer knows %s (reserved: false)"
                                   % self.username, metric)
        if answer.status == 200 and not answer.capped:
            return self.result_cls(nagiosplugin.Critical, "register answered 200 without 'reserved': %s"
                                   % answer.body_excerpt(), metric)
        return self.result_cls(nagiosplugin.Critical, "register answered %s" % answer.problem(), metric)


def make_parser():
    parser = options.Parser(SERVICE, prog="check_pryv_register",
                            description=__doc__)
    options.add_platform_options(parser)
    options.add_connection_options(parser)
    options.add_limit_options(parser)
    return parser


def build(args, deadline, secrets):
    target = Target(domain=args.domain, hostname=args.hostname, scheme=args.scheme, port=args.port)
    client = Client(deadline, address=args.address, ca_cert=args.ca_cert, insecure=args.insecure)
    resource = Register(client, target, args.username, args.timeout)
    return nagiosplugin.Check(resource, RegisterContext(args.username),
                              plugin.TimeContext(args.warning, args.critical),
                              plugin.Summary("register", lambda: resource.outcome.details()))


def main(argv=None):
    plugin.run(SERVICE, make_parser(), build, argv)


if __name__ == "__main__":
    main()
