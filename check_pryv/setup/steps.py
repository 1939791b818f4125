"""check_pryv_setup's steps, as the healthcheck guide has an operator do them by hand, each one skipped when
already done; --all-hostings repeats them per hosting."""

import argparse
import hashlib
import json
import os
import re
import time
from urllib.parse import quote

from check_pryv import configtext, options, secret
from check_pryv.client import Client, Target, TransportError, one_line
from check_pryv.deadline import Deadline
from check_pryv.setup import PROG, REFUSED, UNREACHABLE, Refused, Unreachable, say, shown
from check_pryv.setup.password import confirm_password
from check_pryv.setup.tokenfile import save_token


# Statuses that a proxy (nginx) gives for a service behind it that is down.
GATEWAY_ERRORS = (502, 503, 504)
PERMISSIONS = [{"streamId": "*", "level": "manage"}]
MAX_HOSTINGS = 50  # --all-hostings makes an account and a file per hosting: a register listing thousands is a fault
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
        say("register: account %s created%s" % (args.username, " on hosting %s" % shown(hosting) if hosting else ""))
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
    listed = one_line(", ".join("%s (%s)" % (shown(name), "available" if up else "not available")
                                for name, up in hostings), 1000) or "none"
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
    if len(hostings) > args.max_hostings:
        say("register: /hostings lists %d hostings: only the first %d are used (--max-hostings)"
            % (len(hostings), args.max_hostings))
        hostings = hostings[:args.max_hostings]
    ready, unused, code = [], [], 0
    for hosting, available in hostings:
        one = argparse.Namespace(**vars(args))
        try:
            one.username, one.token_file, one.email = hosting_account(args, hosting)
            one.hosting = hosting if args.domain else None  # DNS-less: one core, the register takes no hosting
            say("hosting %s: account %s" % (shown(hosting), one.username))
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
        say("hosting %s not used: %s" % (shown(hosting), why))
    if not ready:
        say("%s: error: no hosting could be used" % PROG)
        return code or REFUSED
    say("Lines to paste:")
    for line in configtext.all_hostings_paste_lines(ready):
        say("  " + line)
    return code


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
        client = Client(deadline, self.args.tls, address=self.args.address, proxy=self.args.proxy)
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


def stamp(seconds):
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(seconds)))
    except (TypeError, ValueError, OverflowError):
        return str(seconds)
