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
6. writes the token to --token-file (mode 0600, atomically), or prints it alone on stdout. Everything
   else goes to stderr, ending with the lines to paste into check_pryv_core, Icinga 2 and Nagios.

A second run finds the account and the access, gives the same token and changes nothing.

The account's password comes from --password-file, else the environment variable PRYV_PASSWORD, else
a prompt when a terminal is attached. It is never printed.

Exit codes: 0 the token works; 1 the platform refused a step (the message says which and what to do),
or --token-file holds another token (see --force); 2 bad arguments, or no password; 3 the register or
the core could not be reached or did not answer in time; 130 interrupted (Ctrl-C).
"""
import argparse
import getpass
import os
import re
import shlex
import sys
import tempfile
import time
import warnings
from urllib.parse import urlsplit

from urllib3.exceptions import InsecureRequestWarning

from check_pryv import options, plugin
from check_pryv.client import Client, Target, TransportError, one_line
from check_pryv.deadline import Deadline

PROG = "check_pryv_setup"
REFUSED, UNREACHABLE = 1, 3  # a usage error exits 2, as argparse does
# Statuses that a proxy (nginx) gives for a service behind it that is down.
GATEWAY_ERRORS = (502, 503, 504)
PERMISSIONS = [{"streamId": "*", "level": "manage"}]
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
    platform = options.add_platform_options(parser)
    platform.add_argument("--email", type=email_address,
                          help="the account's e-mail when it is created "
                               "(default: USERNAME@DOMAIN, DNS-less USERNAME@HOSTNAME)")
    platform.add_argument("--hosting", metavar="NAME",
                          help="DNS mode: where to create the account "
                               "(default: the first hosting that /hostings marks available)")
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
    connection = options.add_connection_options(parser)
    connection.add_argument("-t", "--timeout", type=options.timeout_seconds, default=10,
                            help="seconds (whole, >= 1) each call to the platform may take (default: %(default)s)")
    return parser


def main(argv=None):
    parser = make_parser()
    args = options.parse(parser, argv)
    complete(args, parser)
    if args.insecure:  # said once here, instead of urllib3's warning at every call
        warnings.simplefilter("ignore", InsecureRequestWarning)
        say("warning: --insecure: the platform's certificate is not verified")
    secrets = []
    # Every message and even a traceback go through stderr: scrubbing it keeps the password off the screen.
    sys.stderr = plugin.Scrubbed(sys.stderr, secrets)
    try:
        password, prompted = read_password(args, parser)
        secrets.append(password)
        token = provision(args, Platform(args), password, prompted, secrets, parser)
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


def provision(args, platform, password, prompted, secrets, parser):
    """The guide's steps, each one skipped when already done; returns a verified token."""
    if account_exists(platform, args.username):
        say("register: account %s exists" % args.username)
    else:
        if prompted:  # a typo in a new account's password would lock the operator out of it
            confirm_password(password, parser)
        create_account(platform, args, password)
    session = sign_in(platform, args, password)
    secrets.append(session)
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
    token = answer.json.get("token") if answer.status == 200 and isinstance(answer.json, dict) else None
    if isinstance(token, str) and token:
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
    if answer.status == 201 and isinstance(access, dict) and access.get("token"):
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
    say('core: access "%s" already exists: reusing its token' % args.access_name)
    return found[0]["token"]


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


# --- the token, and what to paste ----------------------------------------------------------------------

def deliver(args, token):
    """The token to --token-file or alone on stdout; then the lines to paste, on stderr."""
    if args.token_file:
        done = save_token(args.token_file, token, args.force)
        say("token %s %s (mode %04o)" % (done, args.token_file, os.stat(args.token_file).st_mode & 0o7777))
    else:
        sys.stdout.write(token + "\n")
        sys.stdout.flush()
    say("")
    say("Lines to paste:")
    for line in paste_lines(args):
        say("  " + line)


def token_file_problem(path):
    """Why the token could not be written there, found before any call to the platform; None when fine."""
    if os.path.isdir(path):
        return "it is a directory"
    if os.path.exists(path) and not os.access(path, os.R_OK):
        return "it cannot be read"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return "directory %s does not exist" % folder
    if not os.access(folder, os.W_OK):
        return "directory %s is not writable" % folder
    return None


def save_token(path, token, force):
    """Leave a file that holds this token alone; replace another token only with --force; atomically, 0600."""
    old, stat = "", None
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as stream:
            old, stat = stream.read().strip(), os.stat(path)
    if old == token:
        return "unchanged in"
    if old and not force:
        raise Refused("%s holds another token: not replaced (give --force to replace it; running again gives "
                      "the same token)" % path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(token + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        if stat is not None and os.geteuid() == 0:  # root replacing the monitoring user's file keeps its owner
            os.chown(temporary, stat.st_uid, stat.st_gid)
        os.replace(temporary, path)
    except OSError as error:
        os.unlink(temporary)
        raise Refused("cannot write %s: %s" % (path, error.strerror))
    return "replaced in" if old else "written to"


def paste_lines(args):
    """What to paste: it names the token's file, or where the token went; the token itself is never on screen."""
    if args.token_file:
        path = os.path.abspath(args.token_file)
        return ["# check it now:", core_command(args),
                "# Icinga 2, on the Host object (the file readable by icinga on every node that runs the check):",
                'vars.pryv_core_token_file = "%s"' % path,
                "# Nagios, in resource.cfg (mode 600): the token file that nagios/pryv-commands.cfg reads",
                "$USER11$=%s" % path]
    return ["# the token went to stdout alone; with it in the environment variable PRYV_ACCESS_TOKEN,",
            "# check it now:", core_command(args),
            "# Icinga 2, on the Host object (hide *token* custom variables in Icinga Web 2):",
            'vars.pryv_core_token = "<the token printed on stdout>"',
            "# Nagios, in resource.cfg (mode 600): a file holding the token, readable by nagios only",
            "$USER11$=/etc/nagios4/pryv-token"]


def core_command(args):
    """check_pryv_core with the same platform and connection options, ready to run."""
    words = ["check_pryv_core"]
    words += ["--domain", args.domain] if args.domain else ["--hostname", args.hostname]
    words += ["--username", args.username]
    words += ["--address", args.address] if args.address else []
    words += ["--port", str(args.port)] if args.port else []
    words += ["--scheme", args.scheme] if args.scheme != "https" else []
    words += ["--ca-cert", os.path.abspath(args.ca_cert)] if args.ca_cert else []
    words += ["--insecure"] if args.insecure else []
    words += ["--token-file", os.path.abspath(args.token_file)] if args.token_file else []
    return " ".join(shlex.quote(w) for w in words)


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
    return answer.problem() + (" - %s" % extra if extra else "")


# --- the password ---------------------------------------------------------------------------------------

def read_password(args, parser):
    """(password, prompted): --password-file, else PRYV_PASSWORD, else a prompt on a terminal."""
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8") as stream:
                password, source = stream.readline().rstrip("\r\n"), "--password-file %s" % args.password_file
        except (OSError, UnicodeDecodeError) as error:
            # a path that does not exist may be the password itself, typed in the wrong place: never repeat it
            named = " " + args.password_file if os.path.exists(args.password_file) else ""
            parser.error("cannot read --password-file%s: %s" % (named, getattr(error, "strerror", None) or "not text"))
    elif os.environ.get("PRYV_PASSWORD") is not None:
        password, source = os.environ["PRYV_PASSWORD"], "PRYV_PASSWORD"
    elif sys.stdin.isatty():
        return prompt("Password of %s: " % args.username, parser), True
    else:
        parser.error("no password: give --password-file FILE, set PRYV_PASSWORD, or run it on a terminal")
    if not password:
        parser.error("the password from %s is empty" % source)
    return password, False


def confirm_password(password, parser):
    if prompt("The account does not exist yet; password again, to create it: ", parser) != password:
        parser.error("the two passwords differ")


def prompt(text, parser):
    password = getpass.getpass(text, stream=sys.stderr)
    if not password:
        parser.error("empty password")
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
    if not re.match(r"^[^@\s]+@[^@\s]+$", text):
        raise argparse.ArgumentTypeError("invalid e-mail %r" % text)
    return text


def origin_url(text):
    """An Origin header: scheme://host[:port], nothing after."""
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError("invalid origin %r: scheme://host[:port], e.g. https://sw.DOMAIN" % text)
    return "%s://%s" % (parts.scheme, parts.netloc)


class Parser(argparse.ArgumentParser):
    """argparse's errors (stderr, exit 2), without ever repeating a value that may be a misplaced password."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False, **kwargs)  # else `--password X` would pass for --password-file

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
