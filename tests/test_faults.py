"""The fault matrix: each fault, over real sockets, gets its state, its first line and its deadline.

Every case runs the installed plugin with --timeout 3 (the HTTP and DNS faults at each verbosity: none,
-v, -vv, -vvv; Pryv's errors at none; the argument faults at none and -vvv) and checks the exit code, the
first line's start (the operator's words), the wall time (< 3.5 s), that no traceback shows below -vvv,
that nothing goes to stderr, and that the access token appears nowhere. The cases of a group run as
parallel processes, once per module (most of the slow ones just wait for their deadline).
"""
import concurrent.futures
import contextlib
import datetime
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

from check_pryv import advice
from conftest import plugin_path, require_binary, run_plugin
from faultservers import (HTTPFault, Dnsmasq, answer, black_hole, close_at_once, closed_port, drip, flood,
                          headers_drip, headers_never_end, html_answer, http_response, json_answer, pryv_ok,
                          reset_mid_body, silent, silent_udp)

TOKEN = "ckfault0token1must2never3show"
TIMEOUT = "3"
WALL_LIMIT = 3.5
VERBOSITIES = ("", "-v", "-vv", "-vvv")
WORKERS, WAITERS = 4, 12  # processes at once: quick cases, and cases that wait for their deadline
SERVICE = {"register": "PRYV_REGISTER", "core": "PRYV_CORE", "dns": "PRYV_DNS"}
CODE = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
HOST = {"register": "reg.pryv.test", "core": "healthmetrics01.pryv.test"}


def run_all(calls, slow=()):
    """Run plugins in parallel: `calls` maps a key to (plugin, args, env); returns key -> result, timed.

    The calls whose key starts with one of `slow` wait for their deadline: they have a pool of their own,
    larger (they leave the CPU to the quick ones), but not so large that a burst of Python start-ups on a
    busy machine would eat their deadline.
    """
    def timed(call):
        name, args, env = call
        started = time.monotonic()
        result = run_plugin("check_pryv_" + name, *args, env=env)
        result.elapsed = time.monotonic() - started
        return result

    waiting = [key for key in calls if key[0] in slow]
    with concurrent.futures.ThreadPoolExecutor(WAITERS) as waiters, \
            concurrent.futures.ThreadPoolExecutor(WORKERS) as workers:
        futures = {key: (waiters if key in waiting else workers).submit(timed, calls[key])
                   for key in sorted(calls, key=lambda key: key not in waiting)}
        return {key: future.result() for key, future in futures.items()}


def check_run(result, plugin, expected, verbosity=""):
    """The contract every run keeps; `expected` is the first line after the service name (prefix or regex).

    An expected line ending with ` | time=` is the whole text: with -v, where the perfdata moves to the
    last line, the first line must end there.
    """
    output = result.stdout + result.stderr
    assert TOKEN not in output, "the token leaked:\n" + output
    assert result.elapsed < WALL_LIMIT, "%.2fs:\n%s" % (result.elapsed, output)
    first = result.stdout.splitlines()[0] if result.stdout else ""
    if hasattr(expected, "match"):
        pattern = expected.pattern.replace(r" \| time=", "$") if verbosity else expected.pattern
        assert re.match(pattern, first[len(SERVICE[plugin]) + 1:]), first
        state = expected.pattern.split(" ", 1)[0]
    else:
        if verbosity and expected.endswith(" | time="):
            assert first == "%s %s" % (SERVICE[plugin], expected[:-len(" | time=")]), first
        else:
            assert first.startswith("%s %s" % (SERVICE[plugin], expected)), first
        state = expected.split(" ", 1)[0]
    assert result.returncode == CODE[state], output
    assert "|" not in first.split(" | ", 1)[0], first
    if verbosity != "-vvv":
        assert "Traceback" not in output, output
        assert result.stderr == "", result.stderr
    if verbosity:
        assert result.stdout.splitlines()[-1].startswith("| ") or result.returncode == 3, result.stdout
        if result.returncode in (1, 2):  # the long output ends with the advice for this very fault
            last = [line for line in result.stdout.splitlines() if not line.startswith("| ")][-1]
            assert last.startswith("what to do: ") and advice.FALLBACK not in last, result.stdout


def long_output(result):
    return result.stdout.splitlines()[1:]


def tls_context(certificate):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    return context


@pytest.fixture(scope="module")
def token_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    return str(path)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory):
    import trustme

    ca = trustme.CA()
    path = str(tmp_path_factory.mktemp("ca") / "ca.pem")
    ca.cert_pem.write_to_path(path)
    return ca, path


def html_error_page(status, reason):
    """nginx's page for a dead upstream: its title, and the status line in the long output."""
    return (answer(html_answer(status)), "CRITICAL - {who} answered %d HTML page '%d %s' | time=" % (
        status, status, reason), "status: %d %s" % (status, reason))


# HTTP faults. Each: the server, the first line ({host} is the plugin's host, {who} "register" or "core"),
# and a line the long output (-v) must start with. A dict gives each plugin its own first line.
EXPIRED_ON = datetime.datetime(2020, 1, 1)
WELCOME = ("<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
           "<h1>Welcome to nginx!</h1>\n</body>\n</html>\n")
NOT_EXPECTED_JSON = {"meta": {"apiVersion": "1.9.3-open"}}  # its excerpt below has {{ }}: a format string
HTTP_FAULTS = {
    "connection-refused": (
        "closed port", "CRITICAL - cannot connect to {host}:{port} (127.0.0.1): connection refused | time=",
        "failed at stage: connect"),
    "black-hole": (
        "black hole", "CRITICAL - cannot connect to {host}:{port} (127.0.0.1): timed out after ",
        "failed at stage: connect"),
    "no-answer": (
        silent, "CRITICAL - no answer from {host}:{port} (127.0.0.1): timed out after ", "failed at stage: response"),
    "headers-never-end": (
        headers_never_end, "CRITICAL - no answer from {host}:{port} (127.0.0.1): timed out after ",
        "failed at stage: response"),
    "closed-without-answer": (
        close_at_once,
        "CRITICAL - no answer from {host}:{port} (127.0.0.1): connection closed without an answer | time=",
        "failed at stage: response"),
    "not-http": (
        answer(b"SSH-2.0-OpenSSH_9.2\r\n"),
        "CRITICAL - no answer from {host}:{port} (127.0.0.1): not an HTTP answer: 'SSH-2.0-OpenSSH_9.2' | time=",
        "failed at stage: response"),
    "body-cut-short": (
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n{\"events\": ["),
        "CRITICAL - answer from {host}:{port} (127.0.0.1) incomplete: connection closed before the end of the body"
        " | time=", "failed at stage: body"),
    "reset-mid-response": (
        reset_mid_body, "CRITICAL - answer from {host}:{port} (127.0.0.1) incomplete: connection reset by peer | time=",
        "failed at stage: body"),
    "body-drips-one-byte-a-second": (
        drip, "CRITICAL - answer from {host}:{port} (127.0.0.1) incomplete: timed out after ", "failed at stage: body"),
    "500-html": html_error_page(500, "Internal Server Error"),
    "502-html": html_error_page(502, "Bad Gateway"),
    "503-html": html_error_page(503, "Service Unavailable"),
    "504-html": html_error_page(504, "Gateway Timeout"),
    "200-not-json": (
        answer(http_response(200, WELCOME, [("Content-Type", "text/html")])),
        {"register": "CRITICAL - register answered 200 without 'reserved': HTML page 'Welcome to nginx!' | time=",
         "core": "CRITICAL - core answered 200 without an events list: HTML page 'Welcome to nginx!' | time="},
        "body: %d bytes, HTML page 'Welcome to nginx!'" % len(WELCOME)),
    "json-without-expected-keys": (
        answer(json_answer(200, NOT_EXPECTED_JSON)),
        {"register": "CRITICAL - register answered 200 without 'reserved': "
                     "'{{\"meta\": {{\"apiVersion\": \"1.9.3-open\"}}}}' | time=",
         "core": "CRITICAL - core answered 200 without an events list: "
                 "'{{\"meta\": {{\"apiVersion\": \"1.9.3-open\"}}}}' | time="},
        "API version: 1.9.3-open"),
    "redirect": (
        "redirect to the catcher",
        "CRITICAL - {who} answered 302 redirect to http://127.0.0.1:{catcher}/stolen (not followed) | time=",
        "location: http://127.0.0.1:{catcher}/stolen"),
    "100-MB-body": (
        flood(100 * 2 ** 20), "CRITICAL - {who} answered 200 with a body over 1048576 bytes (stopped reading) | time=",
        "body: more than 1048576 bytes, not read further"),
    "tls-certificate-ok": (
        "good certificate",
        {"register": "OK - register knows healthmetrics01 (200 in ", "core": "OK - events answered 200 in "},
        "status: 200 OK"),
    "tls-untrusted-certificate": (
        "untrusted certificate",
        "CRITICAL - TLS handshake with {host}:{port} (127.0.0.1) failed: certificate verify failed: "
        "unable to get local issuer certificate | time=",
        "certificate issuer: O=Some Other CA"),
    "tls-expired-certificate": (
        "expired certificate",
        "CRITICAL - TLS handshake with {host}:{port} (127.0.0.1) failed: certificate verify failed: "
        "certificate has expired | time=",
        "certificate expires: 2020-01-01T00:00:00Z (expired)"),
    "tls-certificate-for-another-name": (
        "certificate for another name",
        "CRITICAL - TLS handshake with {host}:{port} (127.0.0.1) failed: certificate verify failed: "
        "Hostname mismatch, certificate is not valid for '{host}'. | time=",
        "certificate names: other.example"),
    "plain-http-on-https-port": (
        "plain HTTP",
        re.compile(r"CRITICAL - TLS handshake with {host}:{port} \(127\.0\.0\.1\) failed: .+ "
                   r"\(plain HTTP on this port\?\) \| time="),
        "failed at stage: TLS"),
}


@pytest.fixture(scope="module")
def http_runs(ca_file, token_file):
    """Every HTTP fault x both plugins x every verbosity, run once for the module."""
    import trustme

    ca, ca_path = ca_file
    tls = {
        "good certificate": ca.issue_cert("*.pryv.test", "pryv.test"),
        "untrusted certificate": trustme.CA(organization_name="Some Other CA").issue_cert("*.pryv.test"),
        "expired certificate": ca.issue_cert("*.pryv.test", not_after=EXPIRED_ON),  # valid from trustme's 2000
        "certificate for another name": ca.issue_cert("other.example"),
    }
    with contextlib.ExitStack() as stack:
        catcher = stack.enter_context(HTTPFault(answer(pryv_ok)))  # a redirect points here: nothing may come
        servers, started = {}, {}
        for fault, (server, _, _) in HTTP_FAULTS.items():
            if server == "redirect to the catcher":
                location = [("Location", "http://127.0.0.1:%d/stolen" % catcher.port)]
                servers[fault] = (stack.enter_context(HTTPFault(answer(http_response(302, "", location)))).port,
                                  "http")
            elif server == "closed port":
                servers[fault] = (stack.enter_context(closed_port()), "http")
            elif server == "black hole":
                servers[fault] = (stack.enter_context(black_hole()), "http")
            elif server == "plain HTTP":
                servers[fault] = (stack.enter_context(HTTPFault(answer(html_answer(400)))).port, "https")
            elif server in tls:
                servers[fault] = (stack.enter_context(HTTPFault(answer(pryv_ok), tls_context(tls[server]))).port,
                                  "https")
            else:
                started[fault] = stack.enter_context(HTTPFault(server))
                servers[fault] = (started[fault].port, "http")
        calls = {}
        for fault, (port, scheme) in servers.items():
            connection = ["--domain", "pryv.test", "--address", "127.0.0.1", "--port", str(port), "-t", TIMEOUT]
            connection += ["--ca-cert", ca_path] if scheme == "https" else ["--scheme", "http"]
            for plugin in ("register", "core"):
                token = ["--token-file", token_file] if plugin == "core" else []
                for verbosity in VERBOSITIES:
                    calls[fault, plugin, verbosity] = (plugin, connection + token + ([verbosity] * bool(verbosity)),
                                                       None)
        slow = ("black-hole", "no-answer", "headers-never-end", "body-drips-one-byte-a-second")
        yield {"results": run_all(calls, slow), "ports": {f: p for f, (p, _) in servers.items()}, "catcher": catcher,
               "servers": started}


@pytest.mark.parametrize("plugin", ["register", "core"])
@pytest.mark.parametrize("fault", list(HTTP_FAULTS))
def test_http_fault(http_runs, fault, plugin):
    _, first_line, long_line = HTTP_FAULTS[fault]
    if isinstance(first_line, dict):
        first_line = first_line[plugin]
    values = {"host": HOST[plugin], "who": plugin, "port": http_runs["ports"][fault],
              "catcher": http_runs["catcher"].port}
    if hasattr(first_line, "pattern"):
        expected = re.compile(first_line.pattern.format(**{k: re.escape(str(v)) for k, v in values.items()}))
    else:
        expected = first_line.format(**values)
    for verbosity in VERBOSITIES:
        result = http_runs["results"][fault, plugin, verbosity]
        check_run(result, plugin, expected, verbosity)
        if verbosity == "-v":
            assert any(line.startswith(long_line.format(**values)) for line in long_output(result)), result.stdout


def test_redirect_is_not_followed(http_runs):
    assert http_runs["catcher"].connections == []


def test_100_MB_body_is_not_read(http_runs):
    # the plugin stops after 1 MiB; what left the server is that plus what the sockets' buffers took
    connections = http_runs["servers"]["100-MB-body"].connections
    assert len(connections) == 2 * len(VERBOSITIES)
    assert max(connection.sent for connection in connections) < 32 * 2 ** 20


def test_http_long_output_names_url_status_and_time(http_runs):
    lines = long_output(http_runs["results"]["502-html", "core", "-v"])
    port = http_runs["ports"]["502-html"]
    assert "url: http://healthmetrics01.pryv.test:%d/events?limit=1" % port in lines
    assert "connected to: 127.0.0.1" in lines
    assert "body: 157 bytes, HTML page '502 Bad Gateway'" in lines
    assert any(re.match(r"time: \d\.\d{3}s$", line) for line in lines)
    lines = long_output(http_runs["results"]["tls-expired-certificate", "register", "-v"])
    assert "url: https://reg.pryv.test:%d/healthmetrics01/check_username" % http_runs["ports"][
        "tls-expired-certificate"] in lines
    assert any(line.startswith("certificate subject: O=trustme") for line in lines)


# Pryv's errors (shared/pryv-api.md), each served in both body shapes: `{"error": {...}, "meta": ...}`
# (core, DNS-less register) and flat `{"id": ..., "message": ...}` (register). The last column is the core
# plugin's words for the errors it knows.
PRYV_ERRORS = [
    (400, "INVALID_USER_NAME", "Invalid user name", None, None),
    (500, "INTERNAL_ERROR", "Internal error", None, None),
    (500, "unexpected-error", "Unexpected error", None, None),
    (400, "invalid-parameters-format", "The parameters' format is invalid.", None, None),
    (404, "unknown-resource", 'Unknown user "healthmetrics01"', None, "unknown user"),
    (401, "invalid-access-token", 'The access token is missing: expected an "Authorization" header or an "auth" '
                                  'query string parameter.', None, "access token rejected"),
    (403, "invalid-access-token", "Cannot find access from token.", None, "access token rejected"),
    (403, "invalid-access-token", "Access session has expired.", None, "access token rejected"),
    (403, "forbidden", "Access has expired.", None, "access forbidden"),
    (421, "wrong-core", "", {"coreUrl": "https://co2.pryv.test/"}, "wrong core for this user"),
    (400, "INVALID_HOSTING", "Invalid hosting", None, None),
    (400, "INVALID_APPID", "Invalid app id", None, None),
    (400, "INVALID_EMAIL", "Invalid email", None, None),
    (400, "INVALID_PASSWORD", "Invalid password", None, None),
    (400, "INVALID_LANGUAGE", "Invalid language", None, None),
    (400, "RESERVED_USER_NAME", "Reserved user name", None, None),
    (400, "EXISTING_USER_NAME", "Username already exists", None, None),
    (400, "EXISTING_EMAIL", "Email already exists", None, None),
    (400, "UNAVAILABLE_HOSTING", "Unavailable hosting", None, None),
    (400, "INVALID_DATA", "Invalid data", None, None),
    (409, "item-already-exists", "", {"username": "healthmetrics01"}, None),
    (400, "invalid-operation", "Unknown field", None, None),
    (401, "invalid-credentials", "The given username/password pair is invalid.", None, None),
]
SHAPES = ("wrapped", "flat")


def pryv_error_body(shape, error_id, message, data):
    error = {"id": error_id, "message": message, **({"data": data} if data else {})}
    return {"error": error, "meta": {"apiVersion": "1.9.3-open"}} if shape == "wrapped" else error


@pytest.fixture(scope="module")
def pryv_error_runs(token_file):
    with contextlib.ExitStack() as stack:
        calls = {}
        for index, (status, error_id, message, data, _) in enumerate(PRYV_ERRORS):
            for shape in SHAPES:
                body = pryv_error_body(shape, error_id, message, data)
                port = stack.enter_context(HTTPFault(answer(json_answer(status, body)))).port
                connection = ["--domain", "pryv.test", "--address", "127.0.0.1", "--port", str(port),
                              "--scheme", "http", "-t", TIMEOUT]
                calls[index, shape, "register"] = ("register", connection, None)
                calls[index, shape, "core"] = ("core", connection + ["--token-file", token_file], None)
        yield run_all(calls)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("index", range(len(PRYV_ERRORS)),
                         ids=["%d-%s" % (e[0], e[1]) + ("-session" if "session" in e[2] else "")
                              + ("-missing" if "missing" in e[2] else "") for e in PRYV_ERRORS])
def test_pryv_error(pryv_error_runs, index, shape):
    status, error_id, message, data, words = PRYV_ERRORS[index]
    # the server's full stop goes: its sentence is one clause of the status line
    text = message.rstrip(".") or ", ".join("%s: %s" % item for item in data.items())
    check_run(pryv_error_runs[index, shape, "register"], "register",
              "CRITICAL - register answered %d %s: %s | time=" % (status, error_id, text))
    core = "%s (%d %s): %s" % (words, status, error_id, text) if words else "core answered %d %s: %s" % (
        status, error_id, text)
    check_run(pryv_error_runs[index, shape, "core"], "core", "CRITICAL - %s | time=" % core)


# DNS faults against real dnsmasq servers. Each: the server, the domain (the plugin asks for
# healthmetrics01.DOMAIN), the first line, and a line of the long output.
DNS_FAULTS = {
    "cname-to-the-core": ("platform", "pryv.test",
                          "OK - healthmetrics01.pryv.test is 127.0.0.1 via co1.pryv.test (127.0.0.1 in ",
                          "CNAME chain: healthmetrics01.pryv.test -> co1.pryv.test"),
    "cname-chain": ("platform", "chain.test",
                    "OK - healthmetrics01.chain.test is 127.0.0.1 via co1.pryv.test (127.0.0.1 in ",
                    "CNAME chain: healthmetrics01.chain.test -> hop.chain.test -> co1.pryv.test"),
    "cname-chain-leaving-the-answer": ("platform", "outside.test",
                                       "OK - healthmetrics01.outside.test is 127.0.0.9 via co9.other.test (",
                                       "asked 127.0.0.1 for co9.other.test: NOERROR"),
    "nxdomain": ("platform", "nxdomain.test",
                 "CRITICAL - healthmetrics01.nxdomain.test does not exist (NXDOMAIN from 127.0.0.1) | time=",
                 "asked 127.0.0.1: NXDOMAIN"),
    "noerror-without-answer": ("platform", "nodata.test",
                               "CRITICAL - healthmetrics01.nodata.test has no A record "
                               "(NOERROR, empty answer from 127.0.0.1) | time=",
                               "asked 127.0.0.1: NOERROR"),
    "servfail": ("validating resolver", "pryv.test",
                 "CRITICAL - healthmetrics01.pryv.test: no usable answer: SERVFAIL from 127.0.0.1 | time=",
                 "asked 127.0.0.1: SERVFAIL"),
    "refused": ("platform", "refused.test",
                "CRITICAL - healthmetrics01.refused.test: no usable answer: REFUSED from 127.0.0.1 | time=",
                "asked 127.0.0.1: REFUSED"),
    "silent-server": ("silent", "pryv.test",
                      re.compile(r"CRITICAL - healthmetrics01\.pryv\.test: no answer from 127\.0\.0\.1 after "
                                 r"\d\.\d\ds \| time="),  # the time it waited, shown in the perfdata too
                      "asked 127.0.0.1: no answer in time"),
    "answer-too-large-for-udp": ("platform", "big.test",
                                 re.compile(r"OK - healthmetrics01\.big\.test is 127\.0\.0\.\d+, 127\.0\.0\.\d+, "
                                            r"127\.0\.0\.\d+ and 77 more \(127\.0\.0\.1 in \d\.\d{3}s\) \| time="),
                                 "asked 127.0.0.1: NOERROR over TCP (the UDP answer was truncated)"),
    "server-unreachable": ("closed", "pryv.test",
                           "CRITICAL - healthmetrics01.pryv.test: no usable answer: "
                           "connection refused from 127.0.0.1 | time=",
                           "asked 127.0.0.1: connection refused"),
    "address-not-expected": ("platform expecting 127.0.0.2", "pryv.test",
                             "CRITICAL - healthmetrics01.pryv.test is 127.0.0.1, not among the expected 127.0.0.2"
                             " | time=", "asked 127.0.0.1: NOERROR"),
    "silent-first-server-then-a-good-one": (
        "silent first", "pryv.test",
        "OK - healthmetrics01.pryv.test is 127.0.0.1 via co1.pryv.test (127.0.0.1 in ",
        "asked 127.0.0.2: no answer in time"),
}


@pytest.fixture(scope="module")
def dns_runs(tmp_path_factory):
    binary = require_binary(shutil.which("dnsmasq") or "/usr/sbin/dnsmasq")
    work = tmp_path_factory.mktemp("dnsmasq")
    (work / "big.hosts").write_text("".join("127.0.0.%d healthmetrics01.big.test\n" % n for n in range(1, 81)))
    with contextlib.ExitStack() as stack:
        other = stack.enter_context(Dnsmasq(binary, "--host-record=co9.other.test,127.0.0.9", workdir=str(work)))
        platform = stack.enter_context(Dnsmasq(
            binary, "--host-record=co1.pryv.test,127.0.0.1,::1",
            "--local=/pryv.test/", "--cname=healthmetrics01.pryv.test,co1.pryv.test",
            "--local=/chain.test/", "--cname=healthmetrics01.chain.test,hop.chain.test",
            "--cname=hop.chain.test,co1.pryv.test",
            "--local=/outside.test/", "--cname=healthmetrics01.outside.test,co9.other.test",
            "--server=/other.test/127.0.0.1#%d" % other.port,
            "--local=/nxdomain.test/",
            "--local=/nodata.test/", "--host-record=healthmetrics01.nodata.test,::1",
            "--local=/big.test/", "--addn-hosts=%s" % (work / "big.hosts"),
            workdir=str(work)))
        # a resolver that validates DNSSEC from a root it cannot prove: SERVFAIL for the platform's names
        validating = stack.enter_context(Dnsmasq(
            binary, "--server=127.0.0.1#%d" % platform.port, "--dnssec", "--trust-anchor=.,12345,8,2," + "0" * 64,
            workdir=str(work)))
        silent_port = stack.enter_context(silent_udp())
        silent_first = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        silent_first.bind(("127.0.0.2", platform.port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        servers = {"platform": ["--server", "127.0.0.1", "--port", str(platform.port)],
                   "platform expecting 127.0.0.2": ["--server", "127.0.0.1", "--port", str(platform.port),
                                                    "--expected-address", "127.0.0.2"],
                   "validating resolver": ["--server", "127.0.0.1", "--port", str(validating.port)],
                   "silent": ["--server", "127.0.0.1", "--port", str(silent_port)],
                   "closed": ["--server", "127.0.0.1", "--port", str(closed)],
                   "silent first": ["--server", "127.0.0.2", "--server", "127.0.0.1", "--port", str(platform.port)]}
        calls = {(fault, verbosity): ("dns", ["--domain", domain, "-t", TIMEOUT] + servers[server]
                                      + ([verbosity] * bool(verbosity)), {"PRYV_ACCESS_TOKEN": TOKEN})
                 for fault, (server, domain, _, _) in DNS_FAULTS.items() for verbosity in VERBOSITIES}
        yield run_all(calls, slow=("silent-server", "silent-first-server-then-a-good-one"))


@pytest.mark.parametrize("fault", list(DNS_FAULTS))
def test_dns_fault(dns_runs, fault):
    _, _, first_line, long_line = DNS_FAULTS[fault]
    for verbosity in VERBOSITIES:
        result = dns_runs[fault, verbosity]
        check_run(result, "dns", first_line, verbosity)
        if verbosity == "-v":
            assert long_line in long_output(result), result.stdout


def test_dns_long_output_names_query_and_port(dns_runs):
    lines = long_output(dns_runs["nxdomain", "-v"])
    assert re.match(r"query: healthmetrics01\.nxdomain\.test A, port \d+$", lines[0]), lines


# Arguments and environment: (plugin, arguments, environment, first line). Each is UNKNOWN but the token file
# with a trailing newline; none may echo the token.
ARGUMENT_FAULTS = {
    "no-mode": ("register", [], {}, "UNKNOWN - one of the arguments -D/--domain -H/--hostname is required"),
    "dns-no-domain": ("dns", [], {}, "UNKNOWN - one of the arguments -D/--domain is required"),
    "timeout-0": ("register", ["-D", "pryv.test", "--timeout", "0"], {},
                  "UNKNOWN - argument -t/--timeout: invalid timeout '0': a whole number of seconds from 1 to 3600"),
    "timeout-0-dns": ("dns", ["-D", "pryv.test", "-s", "127.0.0.1", "--timeout", "0"], {},
                      "UNKNOWN - argument -t/--timeout: invalid timeout '0'"),
    "timeout-0-core": ("core", ["-D", "pryv.test", "--timeout", "0"], {},
                       "UNKNOWN - argument -t/--timeout: invalid timeout '0'"),
    "timeout-fraction": ("register", ["-D", "pryv.test", "-t", "1.5"], {},
                         "UNKNOWN - argument -t/--timeout: invalid timeout '1.5'"),
    "timeout-negative": ("register", ["-D", "pryv.test", "--timeout=-1"], {},
                         "UNKNOWN - argument -t/--timeout: invalid timeout '-1'"),
    "port-0": ("register", ["-D", "pryv.test", "-p", "0"], {}, "UNKNOWN - argument -p/--port: invalid port '0'"),
    "port-too-large": ("core", ["-D", "pryv.test", "-p", "70000"], {},
                       "UNKNOWN - argument -p/--port: invalid port '70000'"),
    "port-not-a-number": ("dns", ["-D", "pryv.test", "-p", "domain"], {},
                          "UNKNOWN - argument -p/--port: invalid port 'domain'"),
    "bad-domain": ("register", ["-D", "pryv_test"], {},
                   "UNKNOWN - argument -D/--domain: invalid host or domain name 'pryv_test'"),
    "bad-hostname": ("core", ["-H", "pryv..test"], {},
                     "UNKNOWN - argument -H/--hostname: invalid host or domain name 'pryv..test'"),
    "bad-username": ("register", ["-D", "pryv.test", "--username", "health metrics"], {},
                     "UNKNOWN - argument --username: invalid username 'health metrics'"),
    "address-not-an-ip": ("register", ["-D", "pryv.test", "-I", "reg.pryv.test"], {},
                          "UNKNOWN - argument -I/--address: invalid IP address 'reg.pryv.test'"),
    "bad-scheme": ("register", ["-D", "pryv.test", "--scheme", "ftp"], {},
                   "UNKNOWN - argument --scheme: invalid choice: 'ftp'"),
    "bad-warning-range": ("register", ["-D", "pryv.test", "-w", "x:y"], {},
                          "UNKNOWN - argument -w/--warning: invalid range 'x:y'"),
    "inverted-critical-range": ("core", ["-D", "pryv.test", "-c", "5:1"], {},
                                "UNKNOWN - argument -c/--critical: invalid range '5:1'"),
    "bad-skew": ("core", ["-D", "pryv.test", "--skew-warning", "soon"], {},
                 "UNKNOWN - argument --skew-warning: invalid number of seconds 'soon'"),
    "negative-skew": ("core", ["-D", "pryv.test", "--skew-critical=-1"], {},
                      "UNKNOWN - argument --skew-critical: invalid number of seconds '-1'"),
    "infinite-skew": ("core", ["-D", "pryv.test", "--skew-critical", "inf"], {},
                      "UNKNOWN - argument --skew-critical: invalid number of seconds 'inf'"),
    "missing-ca-file": ("register", ["-D", "pryv.test", "--ca-cert", "/nonexistent/ca.pem"], {},
                        "UNKNOWN - cannot read --ca-cert /nonexistent/ca.pem: No such file or directory"),
    "ca-file-not-a-certificate": ("register", ["-D", "pryv.test", "--ca-cert", "{not_a_certificate}"], {},
                                  "UNKNOWN - --ca-cert {not_a_certificate} holds no PEM certificate"),
    "ca-file-and-insecure": ("core", ["-D", "pryv.test", "--ca-cert", "{token_file}", "--insecure"], {},
                             "UNKNOWN - --ca-cert and --insecure contradict each other"),
    "bad-dns-server": ("dns", ["-D", "pryv.test", "-s", "ns.pryv.test"], {},
                       "UNKNOWN - argument -s/--server: invalid IP address 'ns.pryv.test'"),
    "bad-expected-address": ("dns", ["-D", "pryv.test", "-s", "127.0.0.1", "-a", "co1"], {},
                             "UNKNOWN - argument -a/--expected-address: invalid IP address 'co1'"),
    "bad-record-type": ("dns", ["-D", "pryv.test", "--record-type", "MX"], {},
                        "UNKNOWN - argument --record-type: invalid choice: 'MX'"),
    "unknown-option": ("dns", ["-D", "pryv.test", "--bogus"], {}, "UNKNOWN - unrecognized arguments: --bogus ("),
    "no-token": ("core", ["-D", "pryv.test"], {},
                 "UNKNOWN - no access token: give --token-file FILE or set PRYV_ACCESS_TOKEN (see --help)"),
    "empty-token-variable": ("core", ["-D", "pryv.test"], {"PRYV_ACCESS_TOKEN": ""},
                             "UNKNOWN - the access token from PRYV_ACCESS_TOKEN is empty (see --help)"),
    "missing-token-file": ("core", ["-D", "pryv.test", "--token-file", "/nonexistent/token"], {},
                           "UNKNOWN - cannot read the token file /nonexistent/token: No such file or directory"),
    "unreadable-token-file": ("core", ["-D", "pryv.test", "--token-file", "{directory}"], {},
                              "UNKNOWN - cannot read the token file {directory}: it is a directory, not a regular file"),
    "token-file-not-text": ("core", ["-D", "pryv.test", "--token-file", "{binary_file}"], {},
                            "UNKNOWN - cannot read the token file {binary_file}: not text"),
    "empty-token-file": ("core", ["-D", "pryv.test", "--token-file", "{empty_file}"], {},
                         "UNKNOWN - the access token from token file {empty_file} is empty"),
    "token-with-a-space": ("core", ["-D", "pryv.test", "--token", TOKEN + " x"], {},
                           "UNKNOWN - the access token from --token is refused: it contains spaces, control or non-ASCII "
                           "characters"),
    "token-file-with-trailing-newline": ("core", ["{ok_server}", "--token-file", "{token_file}"], {},
                                         "OK - events answered 200 in "),
    # the parser never echoes a secret given in the wrong place
    "token-given-to-the-register": ("register", ["-D", "pryv.test", "--token", TOKEN], {},
                                    "UNKNOWN - unrecognized arguments: --token and 1 value (not shown) (see --help)"),
    "misspelt-token-option": ("core", ["-D", "pryv.test", "--tokn=" + TOKEN], {},
                              "UNKNOWN - unrecognized arguments: --tokn and 1 value (not shown) (see --help)"),
    "abbreviated-token-option": ("core", ["-D", "pryv.test", "--tok", TOKEN], {},
                                 "UNKNOWN - unrecognized arguments: --tok and 1 value (not shown) (see --help)"),
    "stray-token": ("core", ["-D", "pryv.test", TOKEN], {},
                    "UNKNOWN - unrecognized arguments: 1 value (not shown) (see --help)"),
    "token-then-bad-port": ("core", ["-D", "pryv.test", "--token=" + TOKEN, "-p", "x"], {},
                            "UNKNOWN - argument -p/--port: invalid port 'x'"),
    "token-in-environment-then-bad-username": ("core", ["-D", "pryv.test", "--username", "a_b"],
                                               {"PRYV_ACCESS_TOKEN": TOKEN},
                                               "UNKNOWN - argument --username: invalid username 'a_b'"),
}


@pytest.fixture(scope="module")
def argument_runs(tmp_path_factory, token_file):
    work = tmp_path_factory.mktemp("arguments")
    files = {"token_file": token_file, "directory": str(work), "ok_server": "{ok_server}"}
    for name, content in (("not_a_certificate", b"not a certificate\n"), ("binary_file", b"\xff\xfe\x00token"),
                          ("empty_file", b"\n")):
        (work / name).write_bytes(content)
        files[name] = str(work / name)
    with HTTPFault(answer(pryv_ok)) as server:
        ok_server = ["-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port), "--scheme", "http", "-t", TIMEOUT]
        calls = {}
        for case, (plugin, args, env, _) in ARGUMENT_FAULTS.items():
            args = [word.format(**files) for word in args]
            if "{ok_server}" in args:
                index = args.index("{ok_server}")
                args[index:index + 1] = ok_server
            for verbosity in ("", "-vvv"):
                calls[case, verbosity] = (plugin, args + ([verbosity] * bool(verbosity)), env)
        results = run_all(calls)
    return results, files


@pytest.mark.parametrize("case", list(ARGUMENT_FAULTS))
def test_argument_fault(argument_runs, case):
    results, files = argument_runs
    plugin, _, _, first_line = ARGUMENT_FAULTS[case]
    for verbosity in ("", "-vvv"):
        result = results[case, verbosity]
        check_run(result, plugin, first_line.format(**files), verbosity)
        if result.returncode == 3:
            assert len(result.stdout.splitlines()) == 1, result.stdout


def test_sigterm_ends_each_plugin_at_once_with_a_clean_line(tmp_path, token_file):
    """What Icinga does when its own timeout ends: SIGTERM, and the plugin says so on one line."""
    with black_hole() as http_port, silent_udp() as dns_port:
        http = ["-D", "pryv.test", "-I", "127.0.0.1", "-p", str(http_port), "--scheme", "http", "-t", "10"]
        commands = {"register": http, "core": http + ["--token-file", token_file],
                    "dns": ["-D", "pryv.test", "-s", "127.0.0.1", "-p", str(dns_port), "-t", "10"]}
        processes = {name: subprocess.Popen([plugin_path("check_pryv_" + name), *args], stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
                     for name, args in commands.items()}
        time.sleep(1.5)  # well into the wait for the network
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        for name, process in processes.items():
            stdout, stderr = process.communicate(timeout=5)
            assert time.monotonic() - signalled < 0.5, name
            assert process.returncode == 3, stdout + stderr
            assert stdout == "%s UNKNOWN - terminated by SIGTERM\n" % SERVICE[name]
            assert stderr == ""


def test_watchdog_ends_a_plugin_whose_alarm_never_comes_within_its_timeout(token_file):
    """The last resort: the deadline's SIGALRM blocked (as C code stuck in a call would leave it unserved), headers
    that drip in one by one: the watchdog thread alone ends the plugin, UNKNOWN, within -t and a half second."""
    def without_sigalrm():  # the signal mask survives exec: the plugin's alarm stays pending, never delivered
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})

    with HTTPFault(headers_drip) as server:
        http = ["-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port), "--scheme", "http", "-t", "2"]
        commands = {"register": http, "core": http + ["--token-file", token_file]}
        started = time.monotonic()
        processes = {name: subprocess.Popen([plugin_path("check_pryv_" + name), *args], stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                            preexec_fn=without_sigalrm)
                     for name, args in commands.items()}
        for name, process in processes.items():
            stdout, stderr = process.communicate(timeout=10)
            assert time.monotonic() - started < 2.5, (name, stdout)
            # the watchdog also names what blocked: the call, at the stage it was in
            url = "http://reg.pryv.test:%d/healthmetrics01/check_username" if name == "register" else \
                "http://healthmetrics01.pryv.test:%d/events?limit=1"
            assert (process.returncode, stdout, stderr) == (3, "%s UNKNOWN - plugin did not finish within 2s: the call "
                                                            "to %s, at stage response, blocked\n"
                                                            % (SERVICE[name], url % server.port), ""), name


def test_internal_error_is_unknown_with_a_traceback_only_at_vvv():
    """A bug of ours (here: a client that raises, with the token in its message) is UNKNOWN, token-free."""
    code = ("import sys\n"
            "from check_pryv import check_core, client\n"
            "def broken(*args, **kwargs):\n"
            "    raise RuntimeError('broken with %s')\n"
            "client.Client.request = broken\n"
            "check_core.main(sys.argv[1:])\n" % TOKEN)
    for verbosity in VERBOSITIES:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", code, "-D", "pryv.test", "--token", TOKEN]
                                + ([verbosity] * bool(verbosity)), capture_output=True, text=True, timeout=30)
        result.elapsed = time.monotonic() - started
        check_run(result, "core", "UNKNOWN - internal error: RuntimeError: broken with ***", verbosity)
        assert ("Traceback (most recent call last):" in result.stdout) == (verbosity == "-vvv"), result.stdout


def test_perfdata_is_plain_decimals_whatever_the_thresholds(token_file):
    with HTTPFault(answer(pryv_ok)) as server:
        result = run_plugin("check_pryv_core", "-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port),
                            "--scheme", "http", "--token-file", token_file, "-t", TIMEOUT,
                            "-w", "0.00001", "-c", "100000000000000000000", "--skew-warning", "0.00001",
                            "--skew-critical", "1e20")
    assert result.returncode == 1, result.stdout
    perfdata = result.stdout.splitlines()[0].split(" | ")[1]
    assert re.match(r"clock_skew=-?\d+(\.\d+)?s;-0\.00001:0\.00001;-100000000000000000000:100000000000000000000 "
                    r"time=\d+\.\d+s;0\.00001;100000000000000000000;0;3$", perfdata), perfdata
