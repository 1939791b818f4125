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
import argparse
import collections
import getpass
import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import signal
import sys
import time
import warnings
from urllib.parse import quote, urlsplit

from urllib3.exceptions import InsecureRequestWarning

from check_pryv import __version__, options, output, safefile, secret, start
from check_pryv.client import Client, Target, TransportError, one_line
from check_pryv.deadline import Deadline

PROG = "check_pryv_setup"
REFUSED, UNREACHABLE = 1, 3  # a usage error exits 2, as argparse does
# Statuses that a proxy (nginx) gives for a service behind it that is down.
GATEWAY_ERRORS = (502, 503, 504)
PERMISSIONS = [{"streamId": "*", "level": "manage"}]
WRITE_LEVELS = ("contribute", "manage")
LANGUAGE = "en"

# The register's account-creation error ids, in the operator's words: what was refused and what to change. The
# platform's own message follows in brackets; a rule it did not state (a length, a charset) is not invented here.
CREATION_ERRORS = {
    "INVALID_HOSTING": "hosting {hosting!r} is unknown to the register: give one that /hostings lists",
    "UNAVAILABLE_HOSTING": "hosting {hosting!r} does not take new accounts: give one that /hostings marks available",
    "INVALID_APPID": "app id {app_id!r} is refused: give another --app-id",
    "INVALID_USER_NAME": "username {username!r} is refused: give another --username",
    "RESERVED_USER_NAME": "username {username!r} is reserved on this platform: give another --username",
    "EXISTING_EMAIL": "e-mail {email!r} already belongs to another account: give another --email",
    "INVALID_EMAIL": "e-mail {email!r} is refused: give another --email",
    "INVALID_PASSWORD": "the password is refused: choose another",
    "INVALID_LANGUAGE": "language %r is refused" % LANGUAGE,
}
# The parameters that an `invalid-parameters-format` answer names, mapped to the same words.
PARAMETER_ERRORS = {"username": "INVALID_USER_NAME", "email": "INVALID_EMAIL", "password": "INVALID_PASSWORD",
                    "appId": "INVALID_APPID", "appid": "INVALID_APPID", "language": "INVALID_LANGUAGE"}


class Refused(Exception):
    """The platform refused a step: exit 1 with a message that says what to do."""


class Unreachable(Exception):
    """The register or the core did not answer: exit 3."""


def make_parser():
    parser = Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def provision(args, platform, password, prompted, parser):
    """The guide's steps, each one skipped when already done; returns a verified token."""
    if account_exists(platform, args.username):
        say("register: account %s exists" % args.username)
    else:
        if prompted:  # a typo in a new account's password would lock the operator out of it
            confirm_password(password, parser)
        create_account(platform, args, password)
    session = sign_in(platform, args, password)
    token = shared_access_token(platform, args, session)
    verify_token(platform, args, token)
    return token


# --- the steps -----------------------------------------------------------------------------------------

def account_exists(platform, username):
    """check_username: `reserved: true` means the account exists; a reserved word or an invalid name stops here."""
    answer = platform.register("GET", "%s/check_username" % username)
    body = answer.json
    if answer.status == 200 and isinstance(body, dict) and isinstance(body.get("reserved"), bool):
        if body.get("reason") == "RESERVED_USER_NAME":
            raise Refused(CREATION_ERRORS["RESERVED_USER_NAME"].format(username=username))
        return body["reserved"]
    if answer.status == 400 and answer.pryv_error:
        raise Refused("%s (%s)" % (CREATION_ERRORS["INVALID_USER_NAME"].format(username=username), explain(answer)))
    raise Refused("register: check_username answered %s" % explain(answer))


def create_account(platform, args, password):
    """The register's legacy route first, then the newer one when the register does not have it."""
    hosting = choose_hosting(platform, args.hosting) if args.domain else None
    for route in ("user", "users"):
        answer = platform.register("POST", route, account_fields(args, password, hosting, route))
        if answer.status not in (404, 405):
            break
    if answer.status in (200, 201):
        say("register: account %s created%s" % (args.username, " on hosting %s" % hosting if hosting else ""))
        return
    if account_already_there(answer):  # created in between, or a register slower than its check_username
        say("register: account %s exists" % args.username)
        return
    raise Refused(creation_refusal(answer, args, hosting))


def choose_hosting(platform, wanted):
    """--hosting if `/hostings` lists it as available, else the first available one."""
    answer = platform.register("GET", "hostings")
    hostings = list_hostings(answer.json) if answer.status == 200 else None
    if hostings is None:
        raise Refused("register: /hostings answered %s" % explain(answer))
    listed = ", ".join("%s (%s)" % (name, "available" if up else "not available") for name, up in hostings) or "none"
    if wanted and wanted not in dict(hostings):
        raise Refused("hosting %r is unknown to the register; it lists: %s" % (wanted, listed))
    if wanted and not dict(hostings)[wanted]:
        raise Refused("hosting %r is not available for new accounts; the register lists: %s" % (wanted, listed))
    available = [name for name, up in hostings if up]
    if not available:
        raise Refused("no hosting takes new accounts; the register lists: %s" % listed)
    return wanted or available[0]


def list_hostings(body):
    """[(name, available)] in the register's order, from regions > zones > hostings; None if not that shape."""
    try:
        return [(name, hosting.get("available") is True)
                for region in body["regions"].values()
                for zone in region["zones"].values()
                for name, hosting in zone["hostings"].items()]
    except (KeyError, TypeError, AttributeError):
        return None


def account_fields(args, password, hosting, route):
    """What each route reads: DNS mode's legacy `/user` `hosting`, `appid`, `languageCode`; DNS-less `/reg/user`
    `appid` (v2 copies it over `appId`) and `language`; `/users` and `/reg/users` `appId` and `language`."""
    fields = {"username": args.username, "password": password, "email": args.email}
    if args.domain and route == "user":
        fields.update(hosting=hosting, appid=args.app_id, languageCode=LANGUAGE)
    else:
        fields.update({"appid" if route == "user" else "appId": args.app_id}, language=LANGUAGE)
    return fields


def account_already_there(answer):
    error = error_body(answer)
    if error.get("id") == "EXISTING_USER_NAME":
        return True
    data = error.get("data")
    return error.get("id") == "item-already-exists" and isinstance(data, dict) and "username" in data


def creation_refusal(answer, args, hosting):
    """One sentence per refused field, from the register's id(s) or the parameters a core names."""
    error = error_body(answer)
    names = {"hosting": hosting, "app_id": args.app_id, "username": args.username, "email": args.email}
    ids = [error.get("id")]
    if error.get("id") == "INVALID_DATA" and isinstance(error.get("errors"), list):
        ids = [item.get("id") for item in error["errors"] if isinstance(item, dict)]
    elif error.get("id") == "item-already-exists":
        ids = ["EXISTING_EMAIL"]  # the username case went on to sign in
    elif error.get("id") == "invalid-parameters-format" and isinstance(error.get("data"), list):
        ids = [PARAMETER_ERRORS.get(item.get("param")) for item in error["data"] if value_refused(item)]
    known = [CREATION_ERRORS[i].format(**names) for i in dict.fromkeys(ids) if i in CREATION_ERRORS]
    if not known:
        return "account creation refused: %s" % explain(answer)
    return "account creation refused: %s (%s)" % ("; ".join(known), explain(answer))


def value_refused(item):
    """A parameter item that refuses the value sent; v2's `path: "#/"` is a field missing from the body instead, which
    no option of ours can mend (the platform's words alone are shown)."""
    return isinstance(item, dict) and str(item.get("path", "#/%s" % item.get("param"))).rstrip("/") != "#"


def sign_in(platform, args, password):
    """POST /auth/login with the Origin header; returns the session token (14 days, used here only)."""
    body = {"username": args.username, "password": password, "appId": args.app_id}
    answer = platform.core("POST", "auth/login", body=body, headers={"Origin": args.origin})
    token = answer.json.get("token", "") if answer.status == 200 and isinstance(answer.json, dict) else None
    if token is not None:
        well_formed(token, "the session token of POST /auth/login")
        say("core: signed in as %s (Origin %s)" % (args.username, args.origin))
        return token
    error = answer.pryv_error or ("", "")
    if error[0] == "invalid-credentials" and "trusted" in error[1]:
        # Which origins are trusted is the core's auth.trustedApps setting, different on each platform.
        raise Refused("the platform does not trust the sign-in of app id %r from Origin %s (%s). Give --origin an "
                      "origin that the core's auth.trustedApps setting accepts, or add %s@%s to it"
                      % (args.app_id, args.origin, explain(answer), args.app_id, args.origin))
    if error[0] == "invalid-credentials":
        raise Refused("account %s exists but refuses this password (%s): give its password with --password-file "
                      "or PRYV_PASSWORD" % (args.username, explain(answer)))
    if error[0] == "unknown-resource":
        raise Refused("the register says %s is taken but its core does not know it: the name is reserved on this "
                      "platform, or the account is gone from its core (%s)" % (args.username, explain(answer)))
    raise Refused("core: sign-in refused: %s" % explain(answer))


def shared_access_token(platform, args, session):
    """Create the shared access, or take the token of the one that already has its name."""
    wanted = {"name": args.access_name, "permissions": PERMISSIONS}
    answer = platform.core("POST", "accesses", token=session, body=wanted)
    access = answer.json.get("access") if isinstance(answer.json, dict) else None
    if answer.status == 201 and isinstance(access, dict) and "token" in access:
        well_formed(access["token"], "access.token of POST /accesses")
        say('core: access "%s" created (manage on *, no expiry)' % args.access_name)
        return access["token"]
    if (answer.pryv_error or ("",))[0] == "item-already-exists":
        return existing_access_token(platform, args, session)
    raise Refused('core: creating the access "%s" refused: %s' % (args.access_name, explain(answer)))


def existing_access_token(platform, args, session):
    answer = platform.core("GET", "accesses", token=session)
    accesses = answer.json.get("accesses") if answer.status == 200 and isinstance(answer.json, dict) else None
    if not isinstance(accesses, list):
        raise Refused("core: listing the accesses answered %s" % explain(answer))
    found = [a for a in accesses if isinstance(a, dict) and a.get("name") == args.access_name
             and a.get("type") == "shared" and a.get("token")]
    if not found:
        raise Refused('core: an access "%s" exists but GET /accesses does not show it: give another --access-name'
                      % args.access_name)
    if found[0].get("expires") is not None:  # the checks would fail the day it expires
        raise Refused('core: the existing access "%s" expires (at %s): delete it in the app, or give another '
                      "--access-name" % (args.access_name, stamp(found[0]["expires"])))
    well_formed(found[0]["token"], "the token of GET /accesses")
    problem = permission_problem(platform, session, found[0].get("permissions"))
    if problem:  # reused, it would pass here and fail the checks with 403 forbidden
        raise Refused('core: the existing access "%s" cannot serve check_pryv_core: %s. Nothing was changed: delete '
                      "the access in the app and run this command again, or run it with another --access-name"
                      % (args.access_name, problem))
    say('core: access "%s" already exists: reusing its token' % args.access_name)
    return found[0]["token"]


def permission_problem(platform, session, permissions):
    """What an existing access lacks for the checks this command prepares (None when nothing): `--write` writes
    and reads back an event of the stream check-pryv (--write-stream's default), created on its first run."""
    stream_levels = {p["streamId"]: p.get("level") for p in permissions or [] if isinstance(p, dict)
                     and isinstance(p.get("streamId"), str)}
    held = ", ".join("%s on %s" % (one_line(level, 20), one_line(stream, 40))
                     for stream, level in stream_levels.items()) or "no stream permission"
    # Pryv judges a stream by the permission that names it, else by its parent's: `*` for a root stream.
    if stream_levels.get(options.WRITE_STREAM, stream_levels.get("*")) not in WRITE_LEVELS:
        return "it has %s, and check_pryv_core --write needs contribute or manage on the stream %s (this command " \
               "creates the access with manage on *)" % (held, options.WRITE_STREAM)
    if stream_levels.get("*") != "manage" and not stream_exists(platform, session, options.WRITE_STREAM):
        return "it has %s, and the stream %s does not exist: check_pryv_core --write's first run would create it, " \
               "which needs manage on *" % (held, options.WRITE_STREAM)
    return None


def stream_exists(platform, session, stream):
    """Whether the account has the stream, asked with the session (a personal access sees every stream)."""
    streams = quote(json.dumps([stream], separators=(",", ":")), safe="")
    answer = platform.core("GET", "events?streams=%s&limit=1" % streams, token=session)
    if answer.status == 200:
        return True
    if (answer.pryv_error or ("",))[0] == "unknown-referenced-resource":
        return False
    raise Refused("core: looking for the stream %s answered %s" % (stream, explain(answer)))


def well_formed(token, where):
    """A token from the platform, registered as a secret at once, and refused unless check_pryv_core takes it."""
    secret.add(token)
    problem = secret.token_problem(token)
    if problem:
        raise Refused("the platform's answer is malformed: %s is no usable token (%s)" % (where, problem))


def verify_token(platform, args, token):
    """The calls check_pryv_core depends on, made with the new token."""
    answer = platform.core("GET", "access-info", token=token)
    body = answer.json if isinstance(answer.json, dict) else {}
    if answer.status != 200 or body.get("name") != args.access_name:
        raise Refused("core: the token does not check out: access-info answered %s" % explain(answer))
    answer = platform.core("GET", "events?limit=1", token=token)
    body = answer.json if isinstance(answer.json, dict) else {}
    if answer.status != 200 or not isinstance(body.get("events"), list):
        raise Refused("core: the token does not read events: events?limit=1 answered %s" % explain(answer))
    say("core: token verified (access-info, events?limit=1)")


# --- every hosting: one account each (--all-hostings) -------------------------------------------------

USERNAME_MAX = 60  # Pryv's rule, register and core alike: ^[a-z0-9][a-z0-9-]{3,58}[a-z0-9]$


def hosting_suffix(hosting):
    """What names a hosting in a username and a file name: its name in lower-case letters, digits and '-', and
    when that is not its exact name, a short digest of it so that two hostings never share an account."""
    label = re.sub(r"[^a-z0-9]+", "-", hosting.lower()).strip("-")
    if label == hosting:
        return label
    return ("%s-%s" % (label, hashlib.sha256(hosting.encode()).hexdigest()[:6])).lstrip("-")


def hosting_account(args, hosting):
    """(username, token file, e-mail) of the health account of `hosting`, all derived from the options."""
    suffix = hosting_suffix(hosting)
    room = USERNAME_MAX - len(args.username) - 1
    if len(suffix) > room:  # cut the label, keep the digest that tells hostings apart
        digest = hashlib.sha256(hosting.encode()).hexdigest()[:6]
        label = suffix[:max(0, room - len(digest) - 1)].strip("-")
        suffix = "%s-%s" % (label, digest) if label else digest
    if len(suffix) > room:
        raise Refused("--username %s leaves no room for the hosting's name within Pryv's %d characters: give a "
                      "shorter one" % (args.username, USERNAME_MAX))
    username = "%s-%s" % (args.username, suffix)
    stem, extension = os.path.splitext(args.token_file)
    local, _, domain = args.email.partition("@")
    # the default e-mail follows the username; an operator's own address gets a +tag, one per account
    email = "%s@%s" % (username, domain) if local == args.username else "%s+%s@%s" % (local, suffix, domain)
    return username, "%s-%s%s" % (stem, suffix, extension), email


def provision_all_hostings(args, password, prompted, parser):
    """One account per available hosting (and the existing ones of the others); returns the exit code."""
    if not args.token_file:
        parser.error("--all-hostings needs --token-file PATH: each hosting's token goes to a file named after PATH")
    if args.hosting:
        parser.error("--all-hostings and --hosting contradict each other")
    answer = Platform(args).register("GET", "hostings")
    hostings = list_hostings(answer.json) if answer.status == 200 else None
    if not hostings:
        raise Refused("register: /hostings answered %s" % (explain(answer) if hostings is None else "no hosting"))
    ready, unused, code = [], [], 0
    for hosting, available in hostings:
        one = argparse.Namespace(**vars(args))
        try:
            one.username, one.token_file, one.email = hosting_account(args, hosting)
            one.hosting = hosting if args.domain else None  # DNS-less: one core, the register takes no hosting
            say("hosting %s: account %s" % (hosting, one.username))
            platform = Platform(one)
            if not available and not account_exists(platform, one.username):
                unused.append((hosting, "not available for new accounts, and no account %s on it" % one.username))
                continue
            token = provision(one, platform, password, prompted, parser)
            say("token %s %s" % (save_token(one.token_file, token, args.force, args.owner), one.token_file))
            ready.append((hosting, one))
        except Refused as error:
            unused.append((hosting, str(error)))
            code = code or REFUSED
        except Unreachable as error:
            unused.append((hosting, str(error)))
            code = UNREACHABLE if code != REFUSED else code
    say("")
    for hosting, why in unused:
        say("hosting %s not used: %s" % (hosting, why))
    if not ready:
        say("%s: error: no hosting could be used" % PROG)
        return code or REFUSED
    say("Lines to paste:")
    for line in all_hostings_paste_lines(ready):
        say("  " + line)
    return code


def all_hostings_paste_lines(ready):
    """The commands that check each account now, and the Icinga 2 dictionary that icinga2/pryv-cores.conf reads."""
    lines = ["# check them now:"] + [core_command(one) for _, one in ready]
    lines.append("# Icinga 2, on the Host object (each file readable by icinga on every node that runs the check):")
    for hosting, one in ready:
        lines.append("vars.pryv_cores[%s] = { username = %s, token_file = %s }" % (
            json.dumps(hosting), json.dumps(one.username), json.dumps(os.path.abspath(one.token_file))))
    return lines


# --- the token, and what to paste ----------------------------------------------------------------------

def deliver(args, token):
    """The token to --token-file or alone on stdout; then the lines to paste, on stderr."""
    if args.token_file:  # written before anything is printed: a closed output cannot lose it
        done = save_token(args.token_file, token, args.force, args.owner)
        owner = ", owner %s" % args.owner.spec if args.owner else ""
        say("token %s %s (mode %04o%s)" % (done, args.token_file, os.stat(args.token_file).st_mode & 0o7777, owner))
    elif not sys.stdout.write_raw(token + "\n"):  # the product itself: unscrubbed, on its own
        raise Refused("the token could not be written to stdout: give --token-file PATH (running again gives "
                      "the same token)")
    say("")
    say("Lines to paste:")
    for line in paste_lines(args):
        say("  " + line)


def token_file_problem(path):
    """Why the token could not be written there, found before any call to the platform; None when fine."""
    problem = safefile.replaceable(path)
    if problem:
        return problem
    if os.path.exists(path) and not os.access(path, os.R_OK):
        return "it cannot be read"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return "directory %s does not exist" % folder
    if not os.access(folder, os.W_OK):
        return "directory %s is not writable" % folder
    return None


def save_token(path, token, force, owner=None):
    """Leave a file that holds this token (for this owner) alone; replace another token only with --force;
    atomically, 0600 (or --owner's mode). Without --owner, root replacing the file keeps its owner."""
    try:
        old = safefile.read(path, follow=False).strip() if os.path.lexists(path) else ""
    except (OSError, UnicodeDecodeError) as error:
        raise Refused("cannot read %s: %s" % (path, getattr(error, "strerror", None) or "not text"))
    if old == token and (owner is None or owned_by(os.lstat(path), owner)):
        return "unchanged in"
    if old and old != token and not force:
        raise Refused("%s holds another token: not replaced (give --force to replace it; running again gives "
                      "the same token)" % path)
    try:
        if owner is None:
            safefile.write_atomic(path, token + "\n")
        else:
            safefile.write_atomic(path, token + "\n", (owner.uid, owner.gid), owner_mode(owner))
    except OSError as error:
        raise Refused("cannot write %s: %s" % (path, error.strerror))
    return "replaced in" if old and old != token else "written to"


# --owner: who reads the token file. The temporary file changes hands before its rename, so that the token is
# never, even for an instant, under its name with the wrong owner or mode.
Owner = collections.namedtuple("Owner", "spec uid gid group_reads")


def owner_spec(text):
    """--owner USER[:GROUP], as this machine knows them (USER alone, or USER:, means USER's login group)."""
    user, _, group = text.partition(":")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise argparse.ArgumentTypeError("unknown user %r" % user)
    if not group:
        return Owner(user, entry.pw_uid, entry.pw_gid, False)
    try:
        return Owner("%s:%s" % (user, group), entry.pw_uid, grp.getgrnam(group).gr_gid, True)
    except KeyError:
        raise argparse.ArgumentTypeError("unknown group %r" % group)


def owner_mode(owner):
    return 0o640 if owner.group_reads else 0o600


def reader_of(owner):
    """Who reads the token file, in the lines to paste."""
    if owner is None:
        return "the user that runs the checks (see --owner)"
    user, _, group = owner.spec.partition(":")
    return "%s and the group %s" % (user, group) if group else user


def owned_by(stat, owner):
    return (stat.st_uid, stat.st_gid, stat.st_mode & 0o7777) == (owner.uid, owner.gid, owner_mode(owner))


def paste_lines(args):
    """What to paste: every variable the check needs (platform, account, connection), and the token's file or
    where the token went; the token itself is never on screen."""
    icinga = ['vars.pryv_%s = %s' % (option[2:].replace("-", "_"), "true" if value is True else value
                                     if option == "--port" else json.dumps(value))
              for option, value in platform_options(args)]
    mode = "" if args.domain else "_dnsless"
    nagios = "check_command check_pryv_core%s!%s!%s" % (mode, args.domain or args.hostname, " ".join(
        shlex.quote(word) for word in option_words(platform_options(args)[1:])))
    if args.token_file:
        path = os.path.abspath(args.token_file)
        reader = reader_of(args.owner)
        return ["# check it now:", core_command(args),
                "# Icinga 2, on the Host object; the file readable by %s on every node that runs the check:"
                % reader,
                *icinga, 'vars.pryv_core_token_file = "%s"' % path,
                "# Nagios, in resource.cfg (mode 600): the token file that nagios/pryv-commands.cfg reads, "
                "readable by %s" % reader,
                "$USER11$=%s" % path, "# Nagios, the service's command", nagios]
    return ["# the token went to stdout alone; with it in the environment variable PRYV_ACCESS_TOKEN,",
            "# check it now:", core_command(args),
            "# Icinga 2, on the Host object (hide *token* custom variables in Icinga Web 2):",
            *icinga, 'vars.pryv_core_token = "<the token printed on stdout>"',
            "# Nagios, in resource.cfg (mode 600): a file holding the token, readable by nagios only",
            "$USER11$=/etc/nagios4/pryv-token", "# Nagios, the service's command", nagios]


def platform_options(args):
    """(option, value) of the platform, the account and the connection, as given; True for a flag."""
    pairs = [("--domain", args.domain) if args.domain else ("--hostname", args.hostname),
             ("--username", args.username)]
    pairs += [("--address", args.address)] if args.address else []
    pairs += [("--port", args.port)] if args.port else []
    pairs += [("--scheme", args.scheme)] if args.scheme != "https" else []
    pairs += [("--ca-cert", os.path.abspath(args.ca_cert))] if args.ca_cert else []
    pairs += [("--insecure", True)] if args.insecure else []
    return pairs


def option_words(pairs):
    return [str(word) for option, value in pairs for word in ([option] if value is True else [option, value])]


def core_command(args):
    """check_pryv_core with the same platform and connection options, ready to run."""
    pairs = platform_options(args)
    pairs += [("--token-file", os.path.abspath(args.token_file))] if args.token_file else []
    return " ".join(shlex.quote(word) for word in ["check_pryv_core", *option_words(pairs)])


# --- the platform, one bounded call at a time ----------------------------------------------------------

class Platform:
    """The register and the health account's core; each call bounded by --timeout (the client's own alarm)."""

    def __init__(self, args):
        self.args = args
        self.target = Target(domain=args.domain, hostname=args.hostname, scheme=args.scheme, port=args.port)

    def register(self, method, path, body=None):
        return self._call("register", method, self.target.register_url(path), {}, body)

    def core(self, method, path, token=None, body=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = token  # raw: 1.x refuses `Bearer`, 2.x takes both
        return self._call("core", method, self.target.core_url(self.args.username, path), headers, body)

    def _call(self, service, method, url, headers, body):
        deadline = Deadline(self.args.timeout)
        client = Client(deadline, self.args.tls, address=self.args.address)
        try:
            answer = client.request(method, url, headers=headers, json_body=body)
        except TransportError as error:
            raise Unreachable("%s unreachable: %s" % (service, error))
        if self.args.verbose:
            say("  %s %s -> %d in %.3fs" % (method, url, answer.status, answer.elapsed))
        if answer.status in GATEWAY_ERRORS and not answer.pryv_error:
            raise Unreachable("%s unreachable: %s %s answered %s" % (service, method, url, answer.problem()))
        return answer


def error_body(answer):
    """Pryv's error object: `{"error": {...}}` (core, DNS-less register) or the flat body (register)."""
    body = answer.json if isinstance(answer.json, dict) else {}
    return body["error"] if isinstance(body.get("error"), dict) else body


def explain(answer):
    """Status, Pryv error id and message, and the register's detail or each refused parameter's code and message."""
    error = error_body(answer)
    extra = error.get("detail") if isinstance(error.get("detail"), str) else ""
    if isinstance(error.get("data"), list):
        extra = ", ".join("%s: %s" % (item.get("param"), item.get("code"))
                          + (" (%s)" % one_line(item["message"], 120) if isinstance(item.get("message"), str) else "")
                          for item in error["data"] if isinstance(item, dict))
    return answer.problem() + (" - %s" % one_line(extra, 200) if extra else "")


# --- the password ---------------------------------------------------------------------------------------

def read_password(args, parser):
    """(password, prompted): --password-file, else PRYV_PASSWORD, else a prompt on a terminal."""
    if args.password_file:
        try:
            password = safefile.read(args.password_file).split("\n", 1)[0].rstrip("\r")
            source = "--password-file %s" % args.password_file
        except (OSError, UnicodeDecodeError) as error:
            # a path that does not exist may be the password itself, typed in the wrong place: never repeat it
            named = " " + args.password_file if os.path.exists(args.password_file) else ""
            parser.error("cannot read --password-file%s: %s" % (named, getattr(error, "strerror", None) or "not text"))
    elif os.environ.get("PRYV_PASSWORD") is not None:
        password, source = os.environ["PRYV_PASSWORD"], "PRYV_PASSWORD"
    elif sys.stdin is not None and sys.stdin.isatty():  # None: started with stdin closed
        return prompt("Password of %s: " % args.username, parser), True
    else:
        parser.error("no password: give --password-file FILE, set PRYV_PASSWORD, or run it on a terminal")
    if not password:
        parser.error("the password from %s is empty" % source)
    check_password_length(password, parser, source)
    return password, False


def check_password_length(password, parser, source):
    """Pryv takes 6 to 99 characters: a shorter one is refused here, before a platform could echo it."""
    if len(password) < secret.MIN_SECRET_LENGTH:
        parser.error("the password from %s is shorter than %d characters" % (source, secret.MIN_SECRET_LENGTH))


def confirm_password(password, parser):
    if prompt("The account does not exist yet; password again, to create it: ", parser) != password:
        parser.error("the two passwords differ")


def prompt(text, parser):
    password = getpass.getpass(text, stream=sys.stderr)
    if not password:
        parser.error("empty password")
    check_password_length(password, parser, "the prompt")
    return password


# --- output ---------------------------------------------------------------------------------------------

def say(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def fail(code, text):
    say("%s: error: %s" % (PROG, text))
    sys.exit(code)


def stamp(seconds):
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(seconds)))
    except (TypeError, ValueError, OverflowError):
        return str(seconds)


# --- argument types -------------------------------------------------------------------------------------

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


def nonempty(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


if __name__ == "__main__":
    main()
