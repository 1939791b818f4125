"""check_pryv_setup: its options, the checks argparse cannot make alone, and main()."""

import argparse
import os
import re
import signal
import sys
import warnings
from urllib.parse import urlsplit

from urllib3.exceptions import InsecureRequestWarning

from check_pryv import __version__, options, output, secret, start
from check_pryv.setup import PROG, REFUSED, UNREACHABLE, Refused, Unreachable, fail, say
from check_pryv.setup import __doc__ as DESCRIPTION
from check_pryv.setup.password import read_password
from check_pryv.setup.steps import MAX_HOSTINGS, Platform, provision, provision_all_hostings
from check_pryv.setup.tokenfile import deliver, owner_spec, token_file_problem


def make_parser():
    parser = Parser(prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="also show each call to the platform")
    parser.add_argument("-V", "--version", action="version", version="%(prog)s " + __version__)
    platform = options.add_platform_options(parser)
    platform.add_argument("--email", type=email_address,
                          help="the account's e-mail when it is created "
                               "(default: USERNAME@DOMAIN, DNS-less USERNAME@HOSTNAME)")
    platform.add_argument("--hosting", metavar="NAME",
                          help="DNS mode: where to create the account "
                               "(default: the first hosting that /hostings marks available)")
    platform.add_argument("--all-hostings", action="store_true",
                          help="one health account per hosting that /hostings marks available, USERNAME-HOSTING "
                               "(each with its token file: --token-file PATH gives PATH-HOSTING, or "
                               "NAME-HOSTING.EXT for NAME.EXT), reusing what exists; ends with the Icinga 2 "
                               "dictionary vars.pryv_cores to paste")
    platform.add_argument("--max-hostings", type=hosting_count, metavar="N",
                          help="--all-hostings: use the first N hostings that the register lists, and say so when "
                               "it lists more: each is an account and a file (default: %d)" % MAX_HOSTINGS)
    platform.add_argument("--app-id", default="pryv-metrics", help="the app id to sign in with (default: %(default)s)")
    platform.add_argument("--origin", type=origin_url,
                          help="the Origin header of the sign-in, one the platform trusts "
                               "(default: https://sw.DOMAIN, DNS-less https://HOSTNAME)")
    platform.add_argument("--access-name", type=nonempty, default="metricsAccess",
                          help="the shared access to create or reuse (default: %(default)s)")
    secrets = parser.add_argument_group("password and token")
    secrets.add_argument("--password-file", metavar="FILE",
                         help="read the account's password from FILE (else PRYV_PASSWORD, else a prompt on a terminal)")
    secrets.add_argument("--password", nargs="?", action=RefusePassword, help=argparse.SUPPRESS)
    secrets.add_argument("--token-file", metavar="PATH",
                         help="write the token to PATH (mode 0600, atomically) instead of stdout")
    secrets.add_argument("--force", action="store_true", help="replace a --token-file that holds another token")
    secrets.add_argument("--owner", metavar="USER[:GROUP]", type=owner_spec,
                         help="give --token-file to USER, the one that runs the checks (nagios on Debian, icinga "
                              "on RHEL): mode 0600, or 0640 for GROUP to read it too; root only")
    connection = options.add_connection_options(parser)
    connection.add_argument("-t", "--timeout", type=options.timeout_seconds, default=10,
                            help="seconds (whole, 1 to 3600) each call to the platform may take (default: %(default)s)")
    return parser


def main(argv=None):
    start.setup_signals(PROG)
    argv = sys.argv[1:] if argv is None else argv
    # Every message, the parser's first included, goes through the scrubber and survives a closed or full
    # output: the password is known before the first argument is judged.
    output.install()
    parser = make_parser()
    for value in parser.secrets(argv):
        secret.add(value)
    args = options.parse(parser, argv)
    complete(args, parser)
    if args.insecure:  # said once here, instead of urllib3's warning at every call
        warnings.simplefilter("ignore", InsecureRequestWarning)
        say("warning: --insecure: the platform's certificate is not verified")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on, Ctrl-C ends below (getpass restores
    try:                                                       # the terminal on its way out)
        password, prompted = read_password(args, parser)
        secret.add(password)
        if args.all_hostings:
            sys.exit(provision_all_hostings(args, password, prompted, parser))
        token = provision(args, Platform(args), password, prompted, parser)
        deliver(args, token)
    except Refused as error:
        fail(REFUSED, str(error))
    except Unreachable as error:
        fail(UNREACHABLE, str(error))
    except KeyboardInterrupt:
        fail(130, "interrupted")


def complete(args, parser):
    """Defaults that depend on the mode, and the checks argparse cannot make alone."""
    host = args.domain or args.hostname
    args.email = args.email or "%s@%s" % (args.username, host)
    args.origin = args.origin or ("https://sw." + args.domain if args.domain else "https://" + args.hostname)
    if args.hosting and not args.domain:
        parser.error("--hosting applies to DNS mode (--domain) only: a DNS-less platform has one hosting")
    if options.proxy_problem(args):
        parser.error(options.proxy_problem(args))
    if args.max_hostings and not args.all_hostings:
        parser.error("--max-hostings applies to --all-hostings")
    args.max_hostings = args.max_hostings or MAX_HOSTINGS
    if args.token_file:
        problem = token_file_problem(args.token_file)
        if problem:
            parser.error("cannot use --token-file %s: %s" % (args.token_file, problem))
    elif sys.stdout.failed:  # the token would be lost: say so before the platform is changed
        parser.error("stdout is closed: give --token-file PATH to receive the token")
    if args.owner and not args.token_file:
        parser.error("--owner applies to --token-file: without it the token goes to stdout")
    if args.owner and os.geteuid() not in (0, args.owner.uid):
        parser.error("--owner %s: only root can give a file to another user" % args.owner.spec)


def email_address(text):
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", text):
        raise argparse.ArgumentTypeError("invalid e-mail %r" % text)
    return text


def origin_url(text):
    """An Origin header: scheme://host[:port], nothing after."""
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError when not a number from 0 to 65535
    except ValueError:
        parts = port = None
    if not parts or parts.scheme not in ("https", "http") or not options.is_host_name(parts.hostname or "") \
            or parts.username or parts.password or port == 0 or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError("invalid origin %r: scheme://host[:port], e.g. https://sw.DOMAIN" % text)
    return "%s://%s" % (parts.scheme, parts.netloc)


class Parser(options.SecretOptions, argparse.ArgumentParser):
    """argparse's errors (stderr, exit 2), without ever repeating a value that may be a misplaced password."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False, **kwargs)  # else `--password X` would pass for --password-file
        self.secret_sources()
        self.secret_options.append("--password")
        self.secret_files.append("--password-file")
        self.secret_variables.append("PRYV_PASSWORD")

    def parse_args(self, args=None, namespace=None):
        args, extras = self.parse_known_args(args, namespace)
        if extras:
            named = [word.split("=", 1)[0] for word in extras if word.startswith("-")]
            self.error("unrecognized arguments: %s (values not shown)" % " ".join(named) if named
                       else "%d unexpected argument(s), not shown" % len(extras))
        return args


class RefusePassword(argparse.Action):
    """--password on the command line: refused without repeating it (it is already in the process list)."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error("the password is never taken on the command line: use --password-file FILE or PRYV_PASSWORD")


def hosting_count(text):
    if not options.is_number(text, 5) or not 1 <= int(text) <= 10000:
        raise argparse.ArgumentTypeError("invalid number %r: a whole number from 1 to 10000" % text)
    return int(text)


def nonempty(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


if __name__ == "__main__":
    main()
