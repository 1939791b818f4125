"""check_pryv_setup: prepare a Pryv.io platform for check_pryv_core, in one command that is safe to repeat.

It does what the healthcheck guide has an operator do by hand:

1. asks the register whether the health account exists (check_username);
2. if it does not, creates it: DNS mode `POST https://reg.DOMAIN/user` (then `/users`) on --hosting, by
   default the first hosting that `/hostings` marks available; DNS-less `POST https://HOSTNAME/reg/user`
   (then `/reg/users`);
3. signs in (`POST /auth/login`) with the `Origin` header that the platform trusts;
4. creates the shared access --access-name with `manage` on `*` and no expiry or, when it already exists,
   takes its token from `GET /accesses`;
5. checks the token with `GET /access-info` and `GET /events?limit=1`;
6. writes the token to --token-file (mode 0600, atomically; --owner gives it to the user that runs the
   checks), or prints it alone on stdout. Everything else goes to stderr, ending with the lines to paste
   into check_pryv_core, Icinga 2 and Nagios.

A second run finds the account and the access, gives the same token and changes nothing.

The account's password comes from --password-file, else the environment variable PRYV_PASSWORD, else
a prompt when a terminal is attached. It is never printed.

Exit codes: 0 the token works; 1 the platform refused a step (the message says which and what to do),
or --token-file holds another token (see --force); 2 bad arguments, or no password; 3 the register or
the core could not be reached or did not answer in time; 130 interrupted (Ctrl-C).
"""
# (The docstring above is --help's.) One module per job: `command` (the options, main), `steps` (the guide's steps,
# one bounded call at a time, and --all-hostings), `tokenfile` (the token's file and its owner), `password`; the
# lines to paste come from check_pryv.configtext, the generator that the sandbox's --print-config shares. Here: what
# they all use.
import sys

from check_pryv.output import one_line

PROG = "check_pryv_setup"
REFUSED, UNREACHABLE = 1, 3  # a usage error exits 2, as argparse does


class Refused(Exception):
    """The platform refused a step: exit 1 with a message that says what to do."""


class Unreachable(Exception):
    """The register or the core did not answer: exit 3."""


def say(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def shown(name):
    """A name the platform chose (a hosting), as the one filter shows it."""
    return one_line(name, 60)


def fail(code, text):
    say("%s: error: %s" % (PROG, text))
    sys.exit(code)
