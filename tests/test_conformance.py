"""The sandbox against the real server: the same requests to both over HTTPS, DNS-less and in DNS mode.

Each case sends one request to the sandbox and to the real open-pryv.io server (tests/realserver.py) and compares
what a client relies on: the status, the error id, the body's keys (recursively; values that legitimately differ,
such as tokens, ids and times, are not compared), the values a client branches on (error codes, params, paths,
`reserved`, permission levels, versions), and the headers. A failure names the request and each difference.

The deliberate differences are the table DELIBERATE: each names the cases and the aspects it covers, which the
test then ignores. docs/sandbox.rst ("Differences from the real server") names every one of them, and one that no case
shows any more fails, so the list, the docs and the sandbox cannot drift apart.
"""
import base64
import json
import pathlib
import re
import secrets
import time
from dataclasses import dataclass, field

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import requests
import websocket

from check_pryv.sandbox import Sandbox
from conftest import cannot
from realserver import running_real_dns

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "sandbox.rst"
USER = "conformance01"  # an account of its own: the real server is shared with the other tests of the session
PASSWORD = "conformance-pass"
APP_ID = "pryv-metrics"
SUFFIX = secrets.token_hex(3)  # names created by the cases: new on both platforms, on every run

DELIBERATE = {  # name -> (the cases it covers, the aspects it covers: regular expressions; why)
    "access-schema-errors": (r"accesses-create-(bad-level|no-name)", r"body\.error\.data.*",
                             "for a malformed accesses.create body the real server lists every branch of its JSON "
                             "schema's anyOf (6 to 21 items); the sandbox names the bad field (PARAM-invalid)"),
    "api-version": (r".*", r"header API-Version|body(\.results\[\d+\])?\.meta\.apiVersion|body\.version",
                    "the sandbox reports 1.9.3-open, the version of the platforms it was first written for, that "
                    "the plugins' --expect-api-version examples use; the fault api-version=VERSION changes it"),
    "access-usage": (r".*", r".* usage keys",
                     "the real server records an access's lastUsed and calls after its answer and, with PostgreSQL, "
                     "not after every call; the sandbox records them at once after each call that succeeds"),
    "dns-mode-register": (r"dns-register-.*|dns-answer-.*", r".*",
                          "in DNS mode the sandbox's register at reg.DOMAIN and its DNS answer as service-register "
                          "1.9 does (flat errors, hostings of its own, POST /user with a hosting; a CNAME to the "
                          "user's core, NOERROR with no answer for an unknown user), the register of the DNS-mode "
                          "platforms in production; the real server here is v2 (routed by nginx, its own DNS)"),
    "server-header": (r".*", r"header Server", "the real server's Server header is its TLS front's (nginx/VERSION); "
                                               "the sandbox has no front and, like the application, sends none"),
    "sso-cookie": (r".*", r"header Set-Cookie", "the real server's login also sets the web apps' single sign-on "
                                                "cookie (sso); no client of a health check reads it"),
    "etag": (r".*", r"header ETag", "the real server (Express) adds a cache validator to its JSON answers; no plugin "
                                    "sends conditional requests"),
}
SEEN = set()  # the deliberate differences that the cases run so far have shown

# Headers compared by value; others are hop-by-hop, dates or lengths.
HEADERS = ("Content-Type", "API-Version", "Pryv-Access-Id", "Access-Control-Allow-Origin",
           "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Expose-Headers",
           "Access-Control-Max-Age", "Access-Control-Allow-Credentials")
HEADERS_PRESENT = ("Pryv-Access-Id", "Set-Cookie", "ETag")  # only whether they are there: their values are ids
USAGE = ("lastUsed", "calls")  # an access's usage counts: see "access-usage" in DELIBERATE
VALUES = ("code", "param", "path", "reserved", "reason", "type", "level", "streamId", "available", "cheersFrom",
          "apiVersion", "version")
ITEMWISE = ("data", "permissions", "results")  # lists compared item by item; other lists by their items' keys
IN_ORDER = ("results",)  # a batch's results follow its calls; the other lists' order is not part of the API
MASKED_IDS = re.compile(r"(?<=:_audit:access-)\w+")  # the audit stream id holds the access id


@dataclass
class Case:
    name: str
    method: str
    path: str  # relative to the root (DNS-less) or to the host; {user}, {domain}... from the platform's context
    headers: dict = field(default_factory=dict)
    body: object = None
    host: str = None  # DNS mode: the Host header (reg.{domain} or {user}.{domain}); None: DNS-less
    files: dict = None  # a multipart body instead: {part name: (file name, bytes, media type)}

    def __str__(self):
        return "%s %s%s" % (self.method, self.path, " (Host %s)" % self.host if self.host else "")


def login_body(**changes):
    body = {"username": "{user}", "password": PASSWORD, "appId": APP_ID}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def account(name, **changes):
    body = {"appId": APP_ID, "username": name, "password": PASSWORD, "email": name + "@example.com",
            "language": "en"}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def auth_request(**changes):
    """An app's sign-in request, as check_pryv_register --auth-request makes it."""
    body = {"requestingAppId": "check-pryv", "languageCode": "en",
            "requestedPermissions": [{"streamId": "check-pryv", "level": "read", "defaultName": "check-pryv"}]}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


TRUSTED = {"Origin": "{trusted_origin}"}
HEALTH = {"Authorization": "{health_token}"}
PERSONAL = {"Authorization": "{personal_token}"}
CASES = [
    Case("root", "GET", ""),
    Case("register-root", "GET", "reg/"),
    Case("service-info", "GET", "reg/service/info"),
    Case("user-service-info", "GET", "{user}/service/info"),
    Case("hostings", "GET", "reg/hostings"),
    Case("check-username-free", "GET", "reg/free" + SUFFIX + "/check_username"),
    Case("check-username-taken", "GET", "reg/{user}/check_username"),
    Case("check-username-reserved-word", "GET", "reg/admin/check_username"),
    Case("check-username-invalid", "GET", "reg/Bad_Name/check_username"),
    Case("check-username-uppercase", "GET", "reg/Conformance01/check_username"),
    Case("reg-user", "POST", "reg/user", body=account("newa" + SUFFIX, appId=None, appid=APP_ID)),
    Case("reg-user-appId-only", "POST", "reg/user", body=account("newb" + SUFFIX)),
    Case("reg-users", "POST", "reg/users", body=account("newc" + SUFFIX)),
    Case("reg-users-taken", "POST", "reg/users", body=account("{user}", email="{email}")),
    Case("reg-users-reserved-word", "POST", "reg/users", body=account("admin")),
    Case("reg-users-invalid", "POST", "reg/users", body=account("x", email="not-an-address")),
    Case("login", "POST", "{user}/auth/login", TRUSTED, login_body()),
    Case("login-wrong-password", "POST", "{user}/auth/login", TRUSTED, login_body(password="wrong-password")),
    Case("login-untrusted-origin", "POST", "{user}/auth/login", {"Origin": "https://untrusted.example"},
         login_body()),
    Case("login-no-origin", "POST", "{user}/auth/login", {}, login_body()),
    Case("login-referer", "POST", "{user}/auth/login", {"Referer": "{trusted_origin}/app/"}, login_body()),
    Case("login-trusted-origin-other-port", "POST", "{user}/auth/login", {"Origin": "{trusted_origin}:8443"},
         login_body()),
    Case("login-extra-field", "POST", "{user}/auth/login", TRUSTED, login_body(extra="ignored")),
    Case("login-missing-field", "POST", "{user}/auth/login", TRUSTED, login_body(password=None)),
    Case("login-unknown-user", "POST", "nobody" + SUFFIX + "/auth/login", TRUSTED, login_body()),
    Case("login-username-upper-case", "POST", "{user}/auth/login", TRUSTED, login_body(username=USER.upper())),
    Case("login-other-user", "POST", "{user}/auth/login", TRUSTED, login_body(username="someone-else")),
    Case("accesses-create", "POST", "{user}/accesses", PERSONAL,
         {"name": "access" + SUFFIX, "permissions": [{"streamId": "*", "level": "read"}]}),
    Case("accesses-create-duplicate", "POST", "{user}/accesses", PERSONAL,
         {"name": "metricsAccess", "permissions": [{"streamId": "*", "level": "manage"}]}),
    Case("accesses-create-bad-level", "POST", "{user}/accesses", PERSONAL,
         {"name": "bad" + SUFFIX, "permissions": [{"streamId": "*", "level": "everything"}]}),
    Case("accesses-create-no-name", "POST", "{user}/accesses", PERSONAL,
         {"permissions": [{"streamId": "*", "level": "read"}]}),
    Case("accesses-create-shared-token", "POST", "{user}/accesses", HEALTH,
         {"name": "other" + SUFFIX, "permissions": [{"streamId": "*", "level": "read"}]}),
    Case("accesses-list", "GET", "{user}/accesses", PERSONAL),
    Case("accesses-list-shared-token", "GET", "{user}/accesses", HEALTH),
    Case("access-info", "GET", "{user}/access-info", HEALTH),
    Case("access-info-personal", "GET", "{user}/access-info", PERSONAL),
    Case("events", "GET", "{user}/events?limit=1", HEALTH),
    Case("events-bearer", "GET", "{user}/events?limit=1", {"Authorization": "Bearer {health_token}"}),
    Case("events-auth-query", "GET", "{user}/events?limit=1&auth={health_token}"),
    Case("events-basic", "GET", "{user}/events?limit=1", {"Authorization": "Basic {health_basic}"}),
    Case("events-no-token", "GET", "{user}/events?limit=1"),
    Case("events-bad-token", "GET", "{user}/events?limit=1", {"Authorization": "not-a-token"}),
    Case("events-expired-access", "GET", "{user}/events?limit=1", {"Authorization": "{expired_token}"}),
    Case("events-unknown-user", "GET", "nobody" + SUFFIX + "/events?limit=1", HEALTH),
    Case("events-limit-not-a-number", "GET", "{user}/events?limit=abc", HEALTH),
    Case("events-head", "HEAD", "{user}/events?limit=1", HEALTH),
    Case("events-options", "OPTIONS", "{user}/events",
         {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}),
    Case("batch", "POST", "{user}/", HEALTH, [{"method": "events.get", "params": {"limit": 1}},
                                              {"method": "accesses.get", "params": {}}]),
    Case("batch-not-an-array", "POST", "{user}/", HEALTH, {"method": "events.get", "params": {}}),
    Case("batch-unknown-method", "POST", "{user}/", HEALTH, [{"method": "no.such.method", "params": {}}]),
    Case("unknown-route", "GET", "{user}/no-such-route", HEALTH),
    # the HFS worker's series (check_pryv_core --series), through the API worker's proxy
    Case("series-store", "POST", "{user}/events/{series_event}/series", HEALTH,
         {"format": "flatJSON", "fields": ["deltaTime", "value"], "points": [[0, 12.5]]}),
    Case("series-query", "GET", "{user}/events/{series_event}/series", HEALTH),
    Case("series-query-not-a-series", "GET", "{user}/events/{note_event}/series", HEALTH),
    Case("series-store-bad-format", "POST", "{user}/events/{series_event}/series", HEALTH, {"format": "csv"}),
    Case("series-store-trashed", "POST", "{user}/events/{trashed_series_event}/series", HEALTH,
         {"format": "flatJSON", "fields": ["deltaTime", "value"], "points": [[0, 1]]}),
    Case("series-no-token", "GET", "{user}/events/{series_event}/series"),
    Case("series-bad-token", "GET", "{user}/events/{series_event}/series", {"Authorization": "not-a-token"}),
    Case("series-unknown-event", "GET", "{user}/events/nosuchevent/series", HEALTH),
    Case("events-of-a-type", "GET", "{user}/events?types=series:mass/kg&state=all&limit=1", HEALTH),
    # attachments (check_pryv_core --attachment)
    Case("attachment-upload", "POST", "{user}/events/{note_event}", HEALTH,
         files={"file": ("check_pryv.txt", b"conformance bytes\n", "text/plain")}),
    Case("attachment-read", "GET", "{user}/events/{note_event}/{file_id}?readToken={read_token}"),
    Case("attachment-read-with-name", "GET", "{user}/events/{note_event}/{file_id}/check_pryv.txt"
                                            "?readToken={read_token}"),
    Case("attachment-read-bad-read-token", "GET", "{user}/events/{note_event}/{file_id}?readToken={read_token}x"),
    Case("attachment-read-no-token", "GET", "{user}/events/{note_event}/{file_id}"),
    Case("attachment-read-unknown", "GET", "{user}/events/{note_event}/nosuchfile", HEALTH),
    Case("attachment-delete-unknown", "DELETE", "{user}/events/{note_event}/nosuchfile", HEALTH),
    Case("auth-request", "POST", "reg/access", body=auth_request()),
    Case("auth-request-no-app-id", "POST", "reg/access", body=auth_request(requestingAppId=None)),
    Case("auth-request-no-permissions", "POST", "reg/access", body=auth_request(requestedPermissions=[])),
    Case("auth-request-poll", "GET", "reg/access/{access_key}"),
    Case("auth-request-poll-unknown-key", "GET", "reg/access/nokey" + SUFFIX),
    # socket.io (engine.io) without an upgrade: the API's workers take WebSocket only
    Case("socketio-polling", "GET", "socket.io/?EIO=4&transport=polling"),
    Case("socketio-websocket-without-upgrade", "GET", "socket.io/?EIO=4&transport=websocket&auth={health_token}"),
]
REG, CORE = "reg.{domain}", "{user}.{domain}"  # DNS mode: the register's and the account's host names
CASES += [
    Case("dns-register-check-username-taken", "GET", "{user}/check_username", host=REG),
    Case("dns-register-check-username-free", "GET", "free" + SUFFIX + "/check_username", host=REG),
    Case("dns-register-check-username-invalid", "GET", "Bad_Name/check_username", host=REG),
    Case("dns-register-service-info", "GET", "service/info", host=REG),
    Case("dns-register-hostings", "GET", "hostings", host=REG),
    Case("dns-register-auth-request", "POST", "access", body=auth_request(), host=REG),
    Case("dns-core-login", "POST", "auth/login", TRUSTED, login_body(), host=CORE),
    Case("dns-core-events", "GET", "events?limit=1", HEALTH, host=CORE),
    Case("dns-core-events-no-token", "GET", "events?limit=1", host=CORE),
    Case("dns-core-events-unknown-user", "GET", "events?limit=1", HEALTH, host="nobody" + SUFFIX + ".{domain}"),
    Case("dns-core-access-info", "GET", "access-info", HEALTH, host=CORE),
    Case("dns-core-batch", "POST", "", HEALTH, [{"method": "events.get", "params": {"limit": 1}}], host=CORE),
    Case("dns-core-series-query", "GET", "events/{series_event}/series", HEALTH, host=CORE),
    Case("dns-core-attachment-read", "GET", "events/{note_event}/{file_id}?readToken={read_token}", host=CORE),
    Case("dns-core-socketio-polling", "GET", "socket.io/?EIO=4&transport=polling", host=CORE),
]
DNS_CASES = [Case("dns-answer-account", "A", "{user}.{domain}"),  # method: the record type asked; path: the name
             Case("dns-answer-unknown-user", "A", "nobody" + SUFFIX + ".{domain}")]


def fill(template, context):
    """The template (str, dict or list) with {name} replaced from the platform's context."""
    if isinstance(template, str):
        return re.sub(r"\{(\w+)\}", lambda match: context.get(match.group(1), match.group(0)), template)
    if isinstance(template, dict):
        return {fill(key, context): fill(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(item, context) for item in template]
    return template


class Platform:
    """One of the two platforms over HTTPS (DNS mode through the Host header): its root URL, CA, and the
    names and tokens its context holds for the cases."""

    def __init__(self, label, public_url, ca_file, trusted_origin):
        self.label, self.public_url, self.ca_file = label, public_url, ca_file
        self.context = {"user": USER, "email": USER + "@example.com", "trusted_origin": trusted_origin,
                        "domain": "pryv.test"}  # both platforms' DNS-mode domain

    def send(self, method, path, headers=None, body=None, files=None):
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.public_url + path, headers=headers, verify=self.ca_file, timeout=15,
                                data=None if body is None else json.dumps(body), files=files)

    def call(self, case):
        headers = fill(dict(case.headers, **({"Host": case.host} if case.host else {})), self.context)
        return self.send(case.method, fill(case.path, self.context), headers, fill(case.body, self.context),
                         case.files)

    def prepare_parts(self):
        """A day-old series event with a point, a trashed one, and a note event with an attachment, in a stream of
        their own: the context's ids and read token for the series and attachment cases (older than the events
        that the events cases see first)."""
        health = {"Authorization": self.context["health_token"]}
        self.expect(201, "POST", USER + "/streams", health, {"id": "parts", "name": "parts"})
        made = {}
        for name, kind in (("series_event", "series:mass/kg"), ("trashed_series_event", "series:mass/kg"),
                           ("note_event", "note/txt")):
            event = {"streamIds": ["parts"], "type": kind, "time": time.time() - 86400}
            if kind == "note/txt":
                event["content"] = "conformance attachment"
            made[name] = self.expect(201, "POST", USER + "/events", health, event)["event"]["id"]
        self.expect(200, "POST", "%s/events/%s/series" % (USER, made["series_event"]), health,
                    {"format": "flatJSON", "fields": ["deltaTime", "value"], "points": [[0, 1.5]]})
        self.expect(200, "DELETE", "%s/events/%s" % (USER, made["trashed_series_event"]), health)
        attached = self.send("POST", "%s/events/%s" % (USER, made["note_event"]), health,
                             files={"file": ("check_pryv.txt", b"conformance bytes\n", "text/plain")})
        assert attached.status_code == 200, "%s: upload answered %s" % (self.label, attached.text[:300])
        attachment = attached.json()["event"]["attachments"][0]
        self.context.update(made, file_id=attachment["id"], read_token=attachment["readToken"])

    def prepare(self, create_account):
        """The context's tokens: a session (personal), the shared health access, and an expired access."""
        if create_account:
            self.expect(201, "POST", "reg/users", body=account(USER))
        session = self.expect(200, "POST", USER + "/auth/login", {"Origin": self.context["trusted_origin"]},
                              fill(login_body(), self.context))
        personal = {"Authorization": session["token"]}
        created = self.send("POST", USER + "/accesses", personal,
                            {"name": "metricsAccess", "permissions": [{"streamId": "*", "level": "manage"}]})
        if created.status_code == 201:
            health = created.json()["access"]["token"]
        else:  # the sandbox's account comes with it
            listed = self.expect(200, "GET", USER + "/accesses", personal)["accesses"]
            health = next(access["token"] for access in listed if access["name"] == "metricsAccess")
        expired = self.expect(201, "POST", USER + "/accesses", personal,
                              {"name": "expired", "permissions": [{"streamId": "*", "level": "read"}],
                               "expireAfter": 0})["access"]["token"]
        access_key = self.expect(201, "POST", "reg/access", body=auth_request())["key"]  # a request to poll
        self.context.update(personal_token=session["token"], health_token=health, expired_token=expired,
                            health_basic=base64.b64encode((health + ":").encode()).decode(), access_key=access_key)

    def expect(self, status, method, path, headers=None, body=None):
        response = self.send(method, path, headers, body)
        assert response.status_code == status, "%s: %s %s answered %s: %s" % (
            self.label, method, path, response.status_code, response.text[:300])
        return response.json()


@pytest.fixture(scope="module")
def platforms(real_server, tmp_path_factory):
    real = Platform("real server", real_server.public_url, real_server.ca_file, real_server.trusted_origin)
    real_server.delete_user(USER)  # left by an earlier run against a server that outlived it
    real.prepare(create_account=True)
    # The real server's account gets one event, as the sandbox's has some: the events' keys are compared.
    personal = {"Authorization": real.context["personal_token"]}
    real.expect(201, "POST", USER + "/streams", personal, {"id": "health", "name": "health"})
    real.expect(201, "POST", USER + "/events", personal,
                {"streamIds": ["health"], "type": "note/txt", "content": "conformance event"})
    # the real server's auth.trustedApps (tests/realserver.py): any app from its origin, on any port
    with Sandbox(hostname=real_server.hostname, username=USER, password=PASSWORD,
                 trusted_apps="*@%s*" % real_server.trusted_origin,
                 state_dir=str(tmp_path_factory.mktemp("conformance-sandbox"))) as sandbox:
        sandboxed = Platform("sandbox", "https://%s:%d/" % (sandbox.hostname, sandbox.http_port), sandbox.ca_file,
                             real_server.trusted_origin)
        sandboxed.context["email"] = "%s@%s" % (USER, sandbox.domain)  # the address the sandbox gave its account
        sandboxed.prepare(create_account=False)
        for platform in (real, sandboxed):
            platform.prepare_parts()
        sandboxed.dns_port = sandbox.dns_port
        yield real, sandboxed
    real_server.delete_user(USER)


def masked(value):
    return MASKED_IDS.sub("ID", value) if isinstance(value, str) else value


def describe(response):
    """What a client relies on in a response: {aspect: value}, flat, for a readable comparison."""
    facts = {"status": response.status_code}
    for name in HEADERS + HEADERS_PRESENT:
        value = response.headers.get(name)
        facts["header " + name] = (value is not None) if name in HEADERS_PRESENT else value
    server = response.headers.get("Server")
    facts["header Server"] = server and server.split("/")[0]  # the product, not its version
    if response.request.method == "HEAD":
        return facts
    try:
        body = response.json()
    except ValueError:
        facts["body"] = "not JSON"
        return facts
    walk(body, "body", facts)
    return facts


def walk(value, path, facts):
    """Record the keys of every object, the VALUES that clients branch on, and the items' keys of lists."""
    if isinstance(value, dict):
        facts[path + " keys"] = sorted(set(value) - set(USAGE))
        facts[path + " usage keys"] = sorted(set(value) & set(USAGE))
        for key, item in value.items():
            if key == "meta":  # its keys, and the version (times and serials differ legitimately)
                facts[path + ".meta keys"] = sorted(item) if isinstance(item, dict) else type(item).__name__
                if isinstance(item, dict) and "apiVersion" in item:
                    facts[path + ".meta.apiVersion"] = item["apiVersion"]
            elif key in USAGE:  # their presence is recorded above; calls' keys are data (method ids)
                continue
            elif (key in VALUES or (key, path.endswith("error")) == ("id", True)) \
                    and not isinstance(item, (dict, list)):  # an error's id; other ids differ legitimately
                facts["%s.%s" % (path, key)] = masked(item)
            else:
                walk(item, "%s.%s" % (path, key), facts)
    elif isinstance(value, list):
        key = path.rsplit(".", 1)[-1]
        if key in ITEMWISE:
            items = value if key in IN_ORDER else sorted(
                value, key=lambda item: json.dumps(masked_tree(item), sort_keys=True))
            facts[path + " length"] = len(value)
            for index, item in enumerate(items):
                walk(item, "%s[%d]" % (path, index), facts)
        else:  # resources (events, accesses): how many differs, what one holds must not
            keys = {key for item in value if isinstance(item, dict) for key in item}
            facts[path + " item keys"] = sorted(keys - set(USAGE)) if value else "empty"
            facts[path + " item usage keys"] = sorted(keys & set(USAGE))


def masked_tree(value):
    if isinstance(value, dict):
        return {key: masked_tree(item) for key, item in value.items() if key in VALUES}
    return masked(value)


def deliberate(case, aspect):
    """The name of the deliberate difference that covers `aspect` of `case`, or None."""
    return next((name for name, (cases, aspects, _) in DELIBERATE.items()
                 if re.fullmatch(cases, case.name) and re.fullmatch(aspects, aspect)), None)


def differences(case, real, sandbox):
    """The aspects that differ, as lines; those a deliberate difference covers are left out (and noted in SEEN)."""
    found = []
    for aspect in sorted(set(real) | set(sandbox)):
        ours, theirs = sandbox.get(aspect, "absent"), real.get(aspect, "absent")
        if ours == theirs:
            continue
        if deliberate(case, aspect):
            SEEN.add(deliberate(case, aspect))
        else:
            found.append("%s: real %s, sandbox %s" % (aspect, json.dumps(theirs), json.dumps(ours)))
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_sandbox_answers_as_the_real_server(platforms, case):
    real, sandbox = platforms
    found = differences(case, describe(real.call(case)), describe(sandbox.call(case)))
    assert not found, "%s (%s) differs:\n  %s" % (case.name, case, "\n  ".join(found))


def dns_facts(platform, port, case):
    """What check_pryv_dns relies on in a DNS answer: its rcode and the types of the records, in order."""
    name = fill(case.path, platform.context)
    answer = dns.query.udp(dns.message.make_query(name, case.method), "127.0.0.1", port=port, timeout=5)
    return {"rcode": dns.rcode.to_text(answer.rcode()),
            "answer": [dns.rdatatype.to_text(rrset.rdtype) for rrset in answer.answer]}


@pytest.fixture(scope="module")
def real_dns_here(real_server, platforms):
    """The real server's DNS for this module alone, started once its account exists. Its DNS knows only the
    accounts that existed when it started (seen: a later one gets NOERROR with no answer), so the session's
    real_dns must not start here, before the accounts that test_real_server creates."""
    with running_real_dns(real_server, cannot) as dns_server:
        yield dns_server


@pytest.mark.parametrize("case", DNS_CASES, ids=[case.name for case in DNS_CASES])
def test_sandbox_dns_answers_as_the_real_dns(platforms, real_dns_here, case):
    real, sandbox = platforms
    found = differences(case, dns_facts(real, real_dns_here.port, case), dns_facts(sandbox, sandbox.dns_port, case))
    assert not found, "%s (%s %s) differs:\n  %s" % (case.name, case.method, case.path, "\n  ".join(found))


def socketio_transcript(platform, namespace, token, host=None, change=False):
    """What a socket.io client sees over WebSocket: the open packet's keys and settings, the answer to joining
    `namespace` (its packet type, namespace and keys, a refusal's message), and when `change`, the first message
    within 3 s after an event is created through the API (None when none comes)."""
    health = {"Authorization": platform.context["health_token"]}
    if change:  # its stream first, before the client joins: it would hear of it (streamsChanged)
        platform.send("POST", USER + "/streams", health, {"id": "socketio", "name": "socket.io"})  # 201, then 409
    url = platform.public_url.replace("https://", "wss://") + "socket.io/?EIO=4&transport=websocket" + (
        "&auth=" + token if token else "")
    ws = websocket.create_connection(url, sslopt={"ca_certs": platform.ca_file}, timeout=5,
                                     **({"host": fill(host, platform.context)} if host else {}))
    try:
        opened = ws.recv()
        settings = json.loads(opened[1:])
        facts = {"open": opened[0], "open keys": sorted(settings), "upgrades": settings["upgrades"],
                 "ping": (settings["pingInterval"], settings["pingTimeout"])}
        namespace = fill(namespace, platform.context)
        ws.send("40%s," % namespace)
        joined = ws.recv()  # "40/NS,{...}", "44/NS,{...}"; the main namespace without its "/,"
        kind, rest = joined[:2], joined[2:]
        if rest.startswith("/"):
            where, _, rest = rest.partition(",")
            kind += where
        answer = json.loads(rest) if rest else {}
        facts.update(join=kind, keys=sorted(answer), message=answer.get("message"))
        if change:
            platform.expect(201, "POST", USER + "/events", health,
                            {"streamIds": ["socketio"], "type": "note/txt", "content": "socket.io conformance"})
            ws.settimeout(3)
            try:
                facts["notification"] = ws.recv()
            except websocket.WebSocketTimeoutException:
                facts["notification"] = None
        return facts
    finally:
        ws.close()


SOCKETIO_CASES = [  # in this order: the first form that joins a user's namespace is the one notified
    ("dnsless-join-notified", "/{user}/{user}", "health_token", None, True),
    ("dns-mode-join-never-notified", "/{user}", "health_token", CORE, True),
    ("unknown-token", "/{user}/{user}", "not-a-token-at-all", None, False),
    ("no-token", "/{user}/{user}", None, None, False),
    ("unknown-user", "/nobody" + SUFFIX, "health_token", None, False),
    ("main-namespace", "/", "health_token", None, False),
    ("not-a-user-name", "/x", "health_token", None, False),
]


def test_sandbox_socketio_answers_as_the_real_server(platforms):
    """The WebSocket side of socket.io, case by case in order (the namespace-form bug depends on it)."""
    real, sandbox = platforms
    found = []
    for name, namespace, token, host, change in SOCKETIO_CASES:
        answers = [socketio_transcript(platform, namespace, platform.context.get(token, token), host, change)
                   for platform in (real, sandbox)]
        found += ["%s: %s: real %s, sandbox %s" % (name, aspect, answers[0].get(aspect), answers[1].get(aspect))
                  for aspect in sorted(set(answers[0]) | set(answers[1])) if answers[0].get(aspect) !=
                  answers[1].get(aspect)]
    assert not found, "socket.io differs:\n  " + "\n  ".join(found)


def test_every_deliberate_difference_still_differs(platforms, request):
    ran = [item for item in request.session.items if item.originalname in (
        "test_sandbox_answers_as_the_real_server", "test_sandbox_dns_answers_as_the_real_dns")]
    if len(ran) < len(CASES) + len(DNS_CASES):
        pytest.skip("needs every case of the tests above in the same run")
    stale = sorted(set(DELIBERATE) - SEEN)
    assert stale == [], "no case differs any more in %s: remove them from DELIBERATE and docs/sandbox.rst" % stale


def test_docs_list_exactly_the_deliberate_differences():
    after = DOCS.read_text(encoding="utf-8").split("Differences from the real server\n", 1)[1]
    section = re.split(r"\n[-=~]{4,}\n", after.split("\n", 1)[1], 1)[0]  # up to the next heading
    listed = re.findall(r"^``([a-z0-9-]+)``", section, re.MULTILINE)  # a definition list: ``name`` then why
    assert listed == sorted(DELIBERATE)
