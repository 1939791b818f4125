"""check_pryv_register: does the register answer, still know the health account, and reach its database?

Calls `GET https://reg.DOMAIN/USER/check_username` (DNS-less: `https://HOSTNAME/reg/USER/check_username`), then
the same for a fresh random name (`check-pryv-` and 12 hex digits; nothing is created). The register answers a
name it found before from an in-memory cache that never expires: the health account's answer stays 200 while
its database is down; a name never asked before makes it look in the database.

States: OK on 200 `"reserved": true` for the health account and 200 `"reserved": false` for the fresh name;
WARNING on 200 `"reserved": false` for the health account (it answers but has lost the account: the core check
fails next); CRITICAL when the fresh name is not answered 200 `"reserved": false` (the database is down: the
platform's error id and message), on any other status (with Pryv's error id and message, or the start of the
body), and when the register cannot be reached or does not answer in time (naming the stage: resolve, connect,
TLS, response, body). Perfdata: `time` (seconds, the health account's request, connection included).

One other question instead, with the same CRITICAL on a failed call or an unexpected status:
  --hostings      GET /hostings: OK when every hosting is available, WARNING when some are not (named),
                  CRITICAL when none is, or when a --hosting NAME is not listed at all.
                  Perfdata hostings_available and hostings_total.
  --service-info  GET /service/info: CRITICAL when a required field (name, api, register, access) is missing,
                  or when its api and register URLs are not those of the --domain or --hostname checked.
  --auth-request  POST /access (DNS-less /reg/access), the app sign-in request that writes to the platform's
                  database: OK on 201 NEED_SIGNIN whose poll URL, on the platform's own host, answers NEED_SIGNIN
                  again; nothing is signed in, the request expires by itself. Perfdata auth_request_time.
With --certificate-days WARN[,CRIT], the certificate the call got is judged too (perfdata certificate_days).
"""
import argparse
import os

import nagiosplugin

from check_pryv import options, plugin, probe
from check_pryv.client import Answer, TransportError

SERVICE = "PRYV_REGISTER"
HOSTING_CHARACTERS = options.ALNUM | {".", "_", "-"}
MAX_HOSTING = 100
FRESH_PREFIX = "check-pryv-"  # then 12 hex digits: within Pryv's rule ^[a-z0-9][a-z0-9-]{3,58}[a-z0-9]$


class RegisterContext(probe.AnswerContext):
    """Judges the check_username answer."""

    expected = "'reserved'"

    def __init__(self, username):
        super().__init__("register")
        self.username = username

    def judge(self, answer, resource):
        if not answered(answer):
            return None
        if answer.json["reserved"]:
            return nagiosplugin.Ok, "register knows %s (200 in %s)" % (self.username,
                                                                        plugin.shown_seconds(answer.elapsed))
        return nagiosplugin.Warn, "register answers but no longer knows %s (reserved: false)" % self.username


def answered(answer):
    """Whether a 200 is a check_username answer: a JSON object with `reserved` true or false."""
    return isinstance(answer.json, dict) and isinstance(answer.json.get("reserved"), bool)


class Register(probe.Call):
    """Measures: the health account's check_username, then, when that answered, a fresh name's (`database`)."""

    parts = ("database",)

    def __init__(self, client, target, username, certificate_days):
        super().__init__("register", client, target.register_url("%s/check_username" % username),
                         certificate_days=certificate_days)
        fresh = "%s%s/check_username" % (FRESH_PREFIX, os.urandom(6).hex())
        self.fresh = probe.Call("database", client, target.register_url(fresh))

    def probe(self):
        yield from super().probe()
        # only after a check_username answer: any other outcome is the news, said once by its own metric
        outcome = self.outcome
        if isinstance(outcome, Answer) and outcome.status == 200 and not outcome.capped and answered(outcome):
            self.fresh.call()
            yield nagiosplugin.Metric("database", self.fresh.outcome, context="database")

    def details(self):
        return super().details() + (["fresh name:"] + self.fresh.details() if self.fresh.outcome else [])


class DatabaseContext(probe.AnswerContext):
    """Judges the fresh name's answer: only 200 `"reserved": false` shows a register that reads its database."""

    who, expected = "register database", "'reserved'"

    def __init__(self):
        super().__init__("database")

    def evaluate(self, metric, resource):
        result = super().evaluate(metric, resource)
        if isinstance(metric.value, TransportError):
            return self.result_cls(result.state, "fresh name check: %s" % result.hint, metric)
        return result

    def judge(self, answer, resource):
        if not answered(answer):
            return None
        if answer.json["reserved"]:
            return nagiosplugin.Critical, "register database says a fresh name is taken (reserved: true)"
        return nagiosplugin.Ok, "database answers"


def make_parser():
    parser = options.Parser(SERVICE, prog="check_pryv_register",
                            description=__doc__)
    options.add_platform_options(parser)
    questions = parser.add_argument_group("question (one per run; default: check_username)")
    exclusive = questions.add_mutually_exclusive_group()
    exclusive.add_argument("--hostings", action="store_true",
                           help="ask /hostings instead: WARNING when some hostings are not available, "
                                "CRITICAL when none is")
    exclusive.add_argument("--service-info", action="store_true",
                           help="ask /service/info instead: CRITICAL when a required field is missing, or its api "
                                "and register URLs are not those of the --domain or --hostname checked")
    exclusive.add_argument("--auth-request", action="store_true",
                           help="make an app sign-in request instead (POST /access, DNS-less /reg/access: it writes "
                                "to the platform's database) and poll it: OK on 201 NEED_SIGNIN and a poll that "
                                "answers NEED_SIGNIN; nothing is signed in, the request expires by itself")
    questions.add_argument("--hosting", metavar="NAME", action="append", type=hosting_name, default=[],
                           help="with --hostings: judge this hosting only (repeatable); CRITICAL when the "
                                "register does not list it")
    options.add_family_options(options.add_connection_options(parser))
    limits = options.add_limit_options(parser)
    options.add_certificate_option(limits)
    options.add_extended_perfdata_option(limits)
    return parser


def hosting_name(text):
    if not 0 < len(text) <= MAX_HOSTING or not HOSTING_CHARACTERS.issuperset(text):
        raise argparse.ArgumentTypeError("invalid hosting name %r: letters, digits, '.', '_' and '-'" % text)
    return text


def build(args, deadline):
    if args.hosting and not args.hostings:
        raise options.UsageError("--hosting NAME applies to --hostings only")
    certificate_days = options.certificate_days(args)
    target, client = probe.platform(args, deadline)
    if args.auth_request:
        from check_pryv import auth_request  # --auth-request only

        resource, contexts = auth_request.question(args, client, target, bool(certificate_days))
    elif args.hostings or args.service_info:
        from check_pryv import register_info  # the default question never loads it

        resource, contexts = register_info.question(args, client, target, bool(certificate_days))
    else:
        resource, contexts = username_question(client, target, args.username, bool(certificate_days))
    return make_check(resource, contexts, certificate_days, args.warning, args.critical, args.extended_perfdata)


def username_question(client, target, username, certificate_days):
    """The Resource of the default question, check_username then a fresh name's, and their Contexts."""
    return Register(client, target, username, certificate_days), [RegisterContext(username), DatabaseContext()]


def make_check(resource, contexts, certificate_days, warning, critical, extended_perfdata=False):
    """The Check of one question, from parsed values: this plugin's, and check_pryv_platform's register, hostings,
    service-info and auth-request."""
    contexts = contexts + [plugin.TimeContext(warning, critical)]  # --auth-request judges its own time
    contexts += probe.phase_contexts(extended_perfdata, resource)
    if certificate_days:
        contexts.append(probe.CertificateContext(*certificate_days))
    return nagiosplugin.Check(resource, *contexts, plugin.Summary(resource.question, resource.details,
                                                                  resource.parts))


def main(argv=None):
    plugin.run(SERVICE, make_parser(), build, argv)


if __name__ == "__main__":
    main()
