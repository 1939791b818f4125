"""check_pryv_register: does the register answer, and does it still know the health account?

Calls `GET https://reg.DOMAIN/USER/check_username` (DNS-less: `https://HOSTNAME/reg/USER/check_username`).

States: OK on 200 `"reserved": true` (the register answers and knows the account); WARNING on 200
`"reserved": false` (it answers but has lost the account: the core check fails next); CRITICAL on any other
status (with Pryv's error id and message, or the start of the body), and when the register cannot be reached
or does not answer in time (naming the stage: resolve, connect, TLS, response, body).
Perfdata: `time` (seconds, the whole request, connection included).

One other question instead, with the same CRITICAL on a failed call or another status than 200:
  --hostings      GET /hostings: OK when every hosting is available, WARNING when some are not (named),
                  CRITICAL when none is, or when a --hosting NAME is not listed at all.
                  Perfdata hostings_available and hostings_total.
  --service-info  GET /service/info: CRITICAL when a required field (name, api, register, access) is missing,
                  or when its api and register URLs are not those of the --domain or --hostname checked.
With --certificate-days WARN[,CRIT], the certificate the call got is judged too (perfdata certificate_days).
"""
import argparse

import nagiosplugin

from check_pryv import options, plugin, probe

SERVICE = "PRYV_REGISTER"
HOSTING_CHARACTERS = options.ALNUM | {".", "_", "-"}
MAX_HOSTING = 100


class RegisterContext(probe.AnswerContext):
    """Judges the check_username answer."""

    expected = "'reserved'"

    def __init__(self, username):
        super().__init__("register")
        self.username = username

    def judge(self, answer, resource):
        body = answer.json
        if not isinstance(body, dict) or not isinstance(body.get("reserved"), bool):
            return None
        if body["reserved"]:
            return nagiosplugin.Ok, "register knows %s (200 in %s)" % (self.username,
                                                                        plugin.shown_seconds(answer.elapsed))
        return nagiosplugin.Warn, "register answers but no longer knows %s (reserved: false)" % self.username


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
    questions.add_argument("--hosting", metavar="NAME", action="append", type=hosting_name, default=[],
                           help="with --hostings: judge this hosting only (repeatable); CRITICAL when the "
                                "register does not list it")
    options.add_family_options(options.add_connection_options(parser))
    options.add_certificate_option(options.add_limit_options(parser))
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
    if args.hostings or args.service_info:
        from check_pryv import register_info  # the default question never loads it

        resource, contexts = register_info.question(args, client, target, bool(certificate_days))
    else:
        resource, contexts = username_question(client, target, args.username, bool(certificate_days))
    return make_check(resource, contexts, certificate_days, args.warning, args.critical)


def username_question(client, target, username, certificate_days):
    """The Resource of the default question, check_username, and its Context."""
    return (probe.Call("register", client, target.register_url("%s/check_username" % username),
                       certificate_days=certificate_days), [RegisterContext(username)])


def make_check(resource, contexts, certificate_days, warning, critical):
    """The Check of one question, from parsed values: this plugin's, and check_pryv_platform's register, hostings
    and service-info."""
    contexts = contexts + [plugin.TimeContext(warning, critical)]
    if certificate_days:
        contexts.append(probe.CertificateContext(*certificate_days))
    return nagiosplugin.Check(resource, *contexts, plugin.Summary(resource.question, resource.details))


def main(argv=None):
    plugin.run(SERVICE, make_parser(), build, argv)


if __name__ == "__main__":
    main()
