"""Issue 11, tried as an attacker would: secrets, files, inputs and protocol corners, over real sockets and files.

Each test reproduces one defect with a throwaway server on loopback (tests/faultservers.py) or a real file of
the wrong kind, runs the installed command, and checks the exact state and words a user reads, that no
traceback shows, and that no secret appears on stdout or stderr.
"""
import contextlib
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import dns.flags
import dns.message
import dns.rrset
import pytest

from conftest import cannot, plugin_path, require_binary, run_plugin
from faultservers import (HTTPFault, answer, black_hole, close_at_once, closed_port, http_response, json_answer,
                          pryv_ok, silent, silent_udp, udp_responder)
from test_setup import on_terminal

TOKEN = "ckADVtoken0must1never2show3"
PIPE_TOKEN = "ckPIPE|token0must1never2show"
QUOTE_TOKEN = 'ckQUOTE"token\\0must1never2show'  # JSON shows it as ckQUOTE\"token\\0...
PASSWORD = "hunter2-secret"
SERVICE = {"core": "PRYV_CORE", "register": "PRYV_REGISTER", "dns": "PRYV_DNS"}
PERFDATA = re.compile(r" \| .*$")


def http(port):
    return ["-D", "pryv.test", "-I", "127.0.0.1", "-p", str(port), "--scheme", "http", "-t", "3"]


def clean(result, *secrets):
    """No traceback, and no secret, nor any run of 8 of its characters, anywhere the user reads."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    no_piece(output, *secrets)
    return output


def no_piece(output, *secrets):
    """Not one run of 8 characters of any of the secrets (the whole of a shorter one) anywhere in `output`."""
    for value in secrets:
        for start in range(max(1, len(value) - 7)):
            assert value[start:start + 8] not in output, (value[start:start + 8], output)


def first_line(result):
    return PERFDATA.sub("", result.stdout.splitlines()[0]) if result.stdout else ""


def core(port, *args, token=TOKEN):
    return run_plugin("check_pryv_core", *http(port), *args, env={"PRYV_ACCESS_TOKEN": token})


# --- 1, 2: a secret is scrubbed where server text enters, before it is cut, joined or rewritten ----------

def pryv_error(status, error_id, message, data=None):
    error = {"id": error_id, "message": message, **({"data": data} if data else {})}
    return json_answer(status, {"error": error})


def reason_phrase(reason):
    return b"HTTP/1.1 500 " + reason.encode() + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


ECHOES = {  # the server echoes the token it got: where, the first line (after PRYV_CORE), a -v line
    "message after 95 x": (pryv_error(403, "forbidden", "x" * 95 + TOKEN),
                           "CRITICAL - access forbidden (403 forbidden): " + "x" * 95 + "***", None),
    "error id": (pryv_error(400, "x" * 30 + TOKEN, "m"), "CRITICAL - core answered 400 " + "x" * 30 + "***: m", None),
    "Location": (http_response(302, "", [("Location", "http://evil.test/" + "x" * 80 + TOKEN)]),
                 "CRITICAL - core answered 302 redirect to http://evil.test/" + "x" * 80 + "*** (not followed)",
                 "location: http://evil.test/" + "x" * 80 + "***"),
    "reason phrase": (reason_phrase("x" * 50 + TOKEN), "CRITICAL - core answered 500 with an empty body",
                      "status: 500 " + "x" * 50 + "***"),
    "HTML title": (http_response(500, "<title>%s%s</title>" % ("x" * 50, TOKEN), [("Content-Type", "text/html")]),
                   "CRITICAL - core answered 500 HTML page '" + "x" * 50 + "***'", None),
    "body excerpt": (http_response(500, "y" * 50 + TOKEN), "CRITICAL - core answered 500 '" + "y" * 50 + "***'",
                     None),
    "body excerpt, JSON-escaped": (http_response(500, json.dumps({"m": QUOTE_TOKEN})),
                                   "CRITICAL - core answered 500 '{\"m\": \"***\"}'", None),
    "apiVersion": (json_answer(200, {"events": [], "meta": {"apiVersion": "1." + "x" * 30 + TOKEN}}),
                   "OK - events answered 200 in ", "API version: 1." + "x" * 30 + "***"),
    "wrong-core data": (pryv_error(421, "wrong-core", "", {"coreUrl": "https://" + "x" * 80 + TOKEN}),
                        "CRITICAL - wrong core for this user (421 wrong-core): coreUrl: https://" + "x" * 80 + "***",
                        None),
}


@pytest.mark.parametrize("where", list(ECHOES))
def test_token_echoed_by_the_core_never_shows(where):
    data, expected, long_line = ECHOES[where]
    token = QUOTE_TOKEN if "JSON" in where else TOKEN
    with HTTPFault(answer(data)) as server:
        for verbosity in ("", "-v", "-vvv"):
            result = core(server.port, *[verbosity] * bool(verbosity), token=token)
            clean(result, token, json.dumps(token)[1:-1])
            assert first_line(result).startswith("PRYV_CORE " + expected), result.stdout
            if verbosity == "-v" and long_line:
                assert long_line in result.stdout.splitlines(), result.stdout


def test_token_with_a_pipe_echoed_by_the_core_never_shows():
    with HTTPFault(answer(pryv_error(403, "forbidden", "token " + PIPE_TOKEN))) as server:
        for verbosity in ("", "-v", "-vv", "-vvv"):
            result = core(server.port, *[verbosity] * bool(verbosity), token=PIPE_TOKEN)
            clean(result, PIPE_TOKEN, PIPE_TOKEN.replace("|", "/"))
            assert first_line(result) == "PRYV_CORE CRITICAL - access forbidden (403 forbidden): token ***"
            assert result.returncode == 2


def recording(answer_of):
    """A behaviour for HTTPFault that keeps each request head it reads, then answers it with `answer_of(head)`."""
    heads = []

    def respond(head):
        heads.append(head)
        return answer_of(head)
    return answer(respond), heads


def authorization_headers(heads):
    return [line for head in heads for line in head.split(b"\r\n") if line.lower().startswith(b"authorization:")]


def test_core_sends_the_raw_token_that_pryv_1x_requires():
    """Pryv 1.x refuses `Bearer TOKEN` (the sandbox and v2 take both): the wire must carry the token alone."""
    behaviour, heads = recording(pryv_ok)
    with HTTPFault(behaviour) as server:
        result = core(server.port)
    assert result.returncode == 0, result.stdout
    assert authorization_headers(heads) == [b"Authorization: " + TOKEN.encode()]


def test_setup_sends_the_raw_token_that_pryv_1x_requires():
    """check_pryv_setup's own calls with a token (its session's, then the new access's): raw too."""
    session, access = "ckSESSIONtoken0raw1", "ckACCESStoken0raw12"

    def platform(head):
        line = head.split(b"\r\n", 1)[0]
        if b"/check_username" in line:
            return json_answer(200, {"reserved": True})
        if b"/auth/login" in line:
            return json_answer(200, {"token": session})
        if line.startswith(b"POST /accesses "):
            return json_answer(201, {"access": {"token": access, "name": "metricsAccess", "type": "shared"}})
        if b"/access-info" in line:
            return json_answer(200, {"name": "metricsAccess", "type": "shared"})
        return json_answer(200, {"events": []})
    behaviour, heads = recording(platform)
    with HTTPFault(behaviour) as server:
        result = run_plugin("check_pryv_setup", *http(server.port), env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    assert authorization_headers(heads) == [b"Authorization: " + token.encode()
                                            for token in (session, access, access)]


@pytest.mark.parametrize("token", ["1", "ckshort01"])
def test_token_below_the_minimum_length_is_refused(token):
    with HTTPFault(answer(pryv_ok)) as server:
        result = core(server.port, token=token)
    assert result.stdout == ("PRYV_CORE UNKNOWN - the access token from PRYV_ACCESS_TOKEN is refused: it is shorter "
                             "than 10 characters (see --help)\n")
    assert result.returncode == 3
    assert server.connections == []


# --- 3, 4: every secret is known before the first argument is judged ------------------------------------

@pytest.mark.parametrize("option, words", [
    ("-t", "argument -t/--timeout: invalid timeout '***': a whole number of seconds from 1 to 3600"),
    ("-p", "argument -p/--port: invalid port '***': a number from 1 to 65535"),
    ("-I", "argument -I/--address: invalid IP address '***'"),
    ("-w", "argument -w/--warning: invalid range '***': "),
])
def test_token_from_the_token_file_given_to_another_option_is_not_echoed(tmp_path, option, words):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    result = run_plugin("check_pryv_core", "-D", "pryv.test", "--token-file", str(token_file), option, TOKEN)
    clean(result, TOKEN)
    assert result.stdout.startswith("PRYV_CORE UNKNOWN - " + words), result.stdout
    assert result.returncode == 3


@pytest.mark.parametrize("option, words", [
    ("-t", "argument -t/--timeout: invalid timeout '***': a whole number of seconds from 1 to 3600"),
    ("--email", "argument --email: invalid e-mail '***'"),
    ("--origin", "argument --origin: invalid origin '***': scheme://host[:port], e.g. https://sw.DOMAIN"),
])
@pytest.mark.parametrize("source", ["PRYV_PASSWORD", "--password-file"])
def test_setup_password_given_to_another_option_is_not_echoed(tmp_path, option, words, source):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    given = ["--password-file", str(password_file)] if source == "--password-file" else []
    result = run_plugin("check_pryv_setup", "-D", "pryv.test", *given, option, PASSWORD,
                        env={"PRYV_PASSWORD": PASSWORD} if not given else None)
    clean(result, PASSWORD)
    assert result.stderr.splitlines()[-1] == "check_pryv_setup: error: " + words
    assert result.returncode == 2


def setup_platform(login, access=None):
    """A register that knows the account, and a core whose sign-in answers `login`, its accesses `access`."""
    def route(head):
        line = head.split(b"\r\n", 1)[0]
        if b"/check_username" in line:
            return json_answer(200, {"reserved": True})
        if b"/auth/login" in line:
            return login
        return access
    return HTTPFault(answer(route))


@pytest.mark.parametrize("password, echoed", [
    ("hunter2  two  spaces", None), ("hunter2\ttab", None), ("hunter2\u2028line-separator", None),
    ("hunter2-" + "p" * 120, None), ("hunter2-trailing-newline\n", "hunter2-trailing-newline"),
])
def test_setup_password_echoed_by_the_platform_never_shows(password, echoed):
    echoed = echoed or password
    refusal = json_answer(401, {"error": {"id": "invalid-credentials", "message": "Wrong password: " + echoed}})
    with setup_platform(refusal) as server:
        result = run_plugin("check_pryv_setup", *http(server.port), env={"PRYV_PASSWORD": password})
    clean(result, echoed, " ".join(echoed.split()), echoed[:40])
    assert result.stderr.splitlines()[-1] == (
        "check_pryv_setup: error: account healthmetrics01 exists but refuses this password (401 invalid-credentials: "
        "Wrong password: ***): give its password with --password-file or PRYV_PASSWORD")
    assert result.returncode == 1


def test_setup_password_typed_at_the_prompt_echoed_by_the_platform_never_shows():
    """The prompt's password is registered as a secret like PRYV_PASSWORD's and --password-file's."""
    typed = "Typed-At-The-Prompt-9"
    refusal = json_answer(401, {"error": {"id": "invalid-credentials", "message": "Wrong password: " + typed}})
    with setup_platform(refusal) as server:
        status, transcript = on_terminal([plugin_path("check_pryv_setup"), *http(server.port)], [typed])
    assert "Password of healthmetrics01: " in transcript
    assert typed not in transcript and typed[:8] not in transcript, transcript
    assert transcript.splitlines()[-1] == (
        "check_pryv_setup: error: account healthmetrics01 exists but refuses this password (401 invalid-credentials: "
        "Wrong password: ***): give its password with --password-file or PRYV_PASSWORD")
    assert status == 1


# --- 5: files: regular files only, a size cap, never blocking, never written through a link --------------

@pytest.fixture
def odd_files(tmp_path):
    """A FIFO, a device node (/dev/null's numbers), links to /dev/zero and to a victim file, a big file."""
    files = {"FIFO": tmp_path / "fifo", "device": tmp_path / "device", "link to /dev/zero": tmp_path / "zero",
             "link to a victim": tmp_path / "link", "big file": tmp_path / "big"}
    os.mkfifo(files["FIFO"])
    try:
        os.mknod(files["device"], stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except OSError:
        cannot("mknod is not allowed here")
    os.symlink("/dev/zero", files["link to /dev/zero"])
    (tmp_path / "victim").write_text("the victim's content\n")
    os.symlink(tmp_path / "victim", files["link to a victim"])
    files["big file"].write_text(TOKEN * 200)
    return {name: str(path) for name, path in files.items()}


SETUP_REFUSALS = {"FIFO": "it is a FIFO, not a regular file", "device": "it is a device, not a regular file",
                  "link to /dev/zero": "it is a symbolic link, not a regular file",
                  "link to a victim": "it is a symbolic link, not a regular file"}


@pytest.mark.parametrize("kind", list(SETUP_REFUSALS))
def test_setup_token_file_that_is_not_a_regular_file_is_refused(odd_files, tmp_path, kind):
    path = odd_files[kind]
    before = os.lstat(path)
    with closed_port() as port:
        result = run_plugin("check_pryv_setup", *http(port), "--token-file", path, env={"PRYV_PASSWORD": PASSWORD})
    clean(result, PASSWORD)
    assert result.stderr.splitlines()[-1] == "check_pryv_setup: error: cannot use --token-file %s: %s" % (
        path, SETUP_REFUSALS[kind])
    assert result.returncode == 2
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert (tmp_path / "victim").read_text() == "the victim's content\n"


CORE_REFUSALS = {"FIFO": "it is a FIFO, not a regular file", "device": "it is a device, not a regular file",
                 "link to /dev/zero": "it is a device, not a regular file", "big file": "it is larger than 4096 bytes"}


@pytest.mark.parametrize("kind", list(CORE_REFUSALS))
def test_core_token_file_that_is_not_a_small_regular_file_is_refused(odd_files, kind):
    result = run_plugin("check_pryv_core", "-D", "pryv.test", "--token-file", odd_files[kind])
    clean(result, TOKEN)
    assert result.stdout == "PRYV_CORE UNKNOWN - cannot read the token file %s: %s (see --help)\n" % (
        odd_files[kind], CORE_REFUSALS[kind])
    assert result.returncode == 3


def test_setup_password_file_that_is_a_fifo_never_blocks(odd_files):
    with closed_port() as port:
        result = run_plugin("check_pryv_setup", *http(port), "--password-file", odd_files["FIFO"])
    assert result.stderr.splitlines()[-1] == "check_pryv_setup: error: cannot read --password-file %s: " \
                                             "it is a FIFO, not a regular file" % odd_files["FIFO"]
    assert result.returncode == 2


# --- 7, 8, 9: inputs: full-match validation, DNS lengths, a timeout cap ---------------------------------

LONG_LABEL = "a" * 64
BAD_INPUTS = {
    "register label over 63": ("register", ["-D", LONG_LABEL + ".test"],
                               "argument -D/--domain: invalid host or domain name '%s...': labels of 1 to 63 "
                               "letters, digits and '-', 253 characters in all" % ("a" * 40)),
    "core hostname label over 63": ("core", ["-H", LONG_LABEL + ".test", "--scheme", "https"],
                                    "argument -H/--hostname: invalid host or domain name '%s...'" % ("a" * 40)),
    "dns label over 63": ("dns", ["-D", LONG_LABEL + ".test", "-s", "127.0.0.1"],
                          "argument -D/--domain: invalid host or domain name '%s...'" % ("a" * 40)),
    "dns name over 253": ("dns", ["-D", ".".join(["a" * 60] * 4) + ".test", "--username", "b" * 20, "-s", "127.0.0.1"],
                          "--username and --domain make the name %s..., over 253 characters" % (
                              "b" * 20 + "." + "a" * 19)),
    "core name over 253": ("core", ["-D", ".".join(["a" * 60] * 4) + ".test", "--username", "b" * 20],
                           "--username and --domain make the name %s..., over 253 characters" % (
                               "b" * 20 + "." + "a" * 19)),
    "username with a newline": ("register", ["-D", "pryv.test", "--username", "abcde\n"],
                                "argument --username: invalid username 'abcde\\n'"),
    "domain with a newline": ("register", ["-D", "pryv.test\n"],
                              "argument -D/--domain: invalid host or domain name 'pryv.test\\n'"),
    "hostname with a newline": ("core", ["-H", "localhost\n"],
                                "argument -H/--hostname: invalid host or domain name 'localhost\\n'"),
    "hosting with a newline": ("register", ["-D", "pryv.test", "--hostings", "--hosting", "h1\n"],
                               "argument --hosting: invalid hosting name 'h1\\n'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_a_usage_error_before_any_network_io(case):
    plugin, args, words = BAD_INPUTS[case]
    result = run_plugin("check_pryv_" + plugin, *args, "-t", "3", env={"PRYV_ACCESS_TOKEN": TOKEN})
    clean(result, TOKEN)
    assert result.stdout.startswith("%s UNKNOWN - %s" % (SERVICE[plugin], words)), result.stdout
    assert result.stdout.endswith(" (see --help)\n") and result.stderr == ""
    assert result.returncode == 3


HUGE = ["1" + "0" * 309, "9300000000", "3601"]


@pytest.mark.parametrize("plugin", ["core", "register", "dns"])
def test_huge_timeout_is_a_usage_error(plugin):
    for value in HUGE:
        result = run_plugin("check_pryv_" + plugin, "-D", "pryv.test", "-t", value, env={"PRYV_ACCESS_TOKEN": TOKEN})
        clean(result, TOKEN)
        assert result.stdout == "%s UNKNOWN - argument -t/--timeout: invalid timeout '%s': a whole number of seconds " \
                                "from 1 to 3600 (see --help)\n" % (SERVICE[plugin], value)
        assert result.returncode == 3


def test_setup_huge_timeout_is_a_usage_error():
    for value in HUGE:
        result = run_plugin("check_pryv_setup", "-D", "pryv.test", "-t", value, env={"PRYV_PASSWORD": PASSWORD})
        clean(result, PASSWORD)
        assert result.stderr.splitlines()[-1] == "check_pryv_setup: error: argument -t/--timeout: invalid timeout " \
                                                 "'%s': a whole number of seconds from 1 to 3600" % value
        assert result.returncode == 2


def test_username_with_a_newline_never_reaches_the_register():
    with HTTPFault(answer(pryv_ok)) as server:
        result = run_plugin("check_pryv_register", *http(server.port), "--username", "abcde\n")
    assert result.returncode == 3 and server.connections == []


# --- 10: what setup sends and takes is checked: an answer that is malformed is said to be ---------------

SESSION = "cksession0token0must1never"


@pytest.mark.parametrize("session, access, words", [
    ("ck\u20acsession0token0must1never", None,
     "the session token of POST /auth/login is no usable token (it contains spaces, control or non-ASCII "
     "characters)"),
    (SESSION, 12345, "access.token of POST /accesses is no usable token (it is not a string)"),
    (SESSION, {"a": 1}, "access.token of POST /accesses is no usable token (it is not a string)"),
    (SESSION, "ckaccess0token\nmust1never2show",
     "access.token of POST /accesses is no usable token (it contains spaces, control or non-ASCII characters)"),
    (SESSION, "ckaccess0token must1never2show",
     "access.token of POST /accesses is no usable token (it contains spaces, control or non-ASCII characters)"),
    (SESSION, "ckaccess0token\u00e9must1never2show",
     "access.token of POST /accesses is no usable token (it contains spaces, control or non-ASCII characters)"),
])
def test_setup_malformed_token_from_the_platform_is_refused(tmp_path, session, access, words):
    login = json_answer(200, {"token": session})
    created = json_answer(201, {"access": {"name": "metricsAccess", "token": access}})
    token_file = tmp_path / "token"
    with setup_platform(login, created) as server:
        result = run_plugin("check_pryv_setup", *http(server.port), "--token-file", str(token_file),
                            env={"PRYV_PASSWORD": PASSWORD})
    secrets = [PASSWORD, session] + ([access] if isinstance(access, str) else [])
    clean(result, *secrets)
    assert result.stderr.splitlines()[-1] == "check_pryv_setup: error: the platform's answer is malformed: " + words
    assert result.returncode == 1
    assert not token_file.exists()


def test_setup_non_ascii_origin_is_a_usage_error():
    result = run_plugin("check_pryv_setup", "-D", "pryv.test", "--origin", "https://sw.\u20ac.test",
                        env={"PRYV_PASSWORD": PASSWORD})
    assert result.stderr.splitlines()[-1] == ("check_pryv_setup: error: argument --origin: invalid origin "
                                              "'https://sw.\u20ac.test': scheme://host[:port], e.g. https://sw.DOMAIN")
    assert result.returncode == 2


# --- 11: output that cannot be written: no traceback, the state's exit code, the token never lost ------

def run_with_stdout(how, command, env=None):
    """Run `command` with stdout closed, on /dev/full, or on a pipe whose reader is gone; (code, stderr)."""
    env = dict({k: v for k, v in os.environ.items() if k not in ("PRYV_ACCESS_TOKEN", "PRYV_PASSWORD")}, **env)
    if how == "closed":
        done = subprocess.run(["sh", "-c", 'exec "$0" "$@" >&-', *command], stderr=subprocess.PIPE, text=True,
                              env=env, timeout=30, stdin=subprocess.DEVNULL)
        return done.returncode, done.stderr
    if how == "full":
        with open("/dev/full", "w") as full:
            done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=30,
                                  stdin=subprocess.DEVNULL)
        return done.returncode, done.stderr
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               stdin=subprocess.DEVNULL)
    process.stdout.close()  # the reader is gone before the first byte: EPIPE
    stderr = process.stderr.read()
    return process.wait(30), stderr


@pytest.mark.parametrize("how", ["closed", "full", "broken pipe"])
def test_plugins_with_an_output_that_cannot_be_written_exit_with_their_state(how):
    with HTTPFault(answer(pryv_ok)) as server, closed_port() as dns_port:
        commands = {"core": (http(server.port), 0), "register": (http(server.port), 0),
                    "dns": (["-D", "pryv.test", "-s", "127.0.0.1", "-p", str(dns_port), "-t", "3"], 2)}
        for plugin, (args, state) in commands.items():
            code, stderr = run_with_stdout(how, [plugin_path("check_pryv_" + plugin), *args],
                                           env={"PRYV_ACCESS_TOKEN": TOKEN})
            assert (code, stderr) == (state, ""), plugin


def test_plugin_with_stderr_closed_says_its_line():
    with HTTPFault(answer(pryv_ok)) as server:
        done = subprocess.run(["sh", "-c", 'exec "$0" "$@" 2>&-', plugin_path("check_pryv_register"),
                               *http(server.port)], stdout=subprocess.PIPE, text=True, timeout=30)
    assert done.stdout.startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in ")
    assert done.returncode == 0


def sandbox_setup_command(sb, *extra):
    return [plugin_path("check_pryv_setup"), "--domain", sb.domain, "--address", "127.0.0.1", "--port",
            str(sb.http_port), "--ca-cert", sb.ca_file, "--username", sb.username, *extra]


@pytest.mark.parametrize("how", ["closed", "full", "broken pipe"])
def test_setup_with_stdout_unwritable_still_writes_the_token_file(sandbox, tmp_path, how):
    token_file = tmp_path / "token"
    code, stderr = run_with_stdout(how, sandbox_setup_command(sandbox, "--token-file", str(token_file)),
                                   env={"PRYV_PASSWORD": sandbox.password})
    assert code == 0, stderr
    assert token_file.read_text() == sandbox.token + "\n"
    assert "token written to %s (mode 0600)" % token_file in stderr.splitlines()
    assert sandbox.password not in stderr and sandbox.token not in stderr and "Traceback" not in stderr


def test_setup_with_stdout_closed_and_no_token_file_is_a_usage_error(sandbox):
    code, stderr = run_with_stdout("closed", sandbox_setup_command(sandbox), env={"PRYV_PASSWORD": sandbox.password})
    assert code == 2
    assert stderr.splitlines()[-1] == "check_pryv_setup: error: stdout is closed: give --token-file PATH to receive " \
                                      "the token"


@pytest.mark.parametrize("how", ["full", "broken pipe"])
def test_setup_that_cannot_print_the_token_says_so(sandbox, how):
    code, stderr = run_with_stdout(how, sandbox_setup_command(sandbox), env={"PRYV_PASSWORD": sandbox.password})
    assert code == 1
    assert stderr.splitlines()[-1] == "check_pryv_setup: error: the token could not be written to stdout: give " \
                                      "--token-file PATH (running again gives the same token)"
    assert sandbox.token not in stderr and "Traceback" not in stderr


# --- 12: signals: handled from the first instant, SIGINT included ---------------------------------------

def wait_for(condition, seconds=10):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.0005)


@pytest.mark.parametrize("plugin", ["core", "register", "dns"])
def test_sigint_while_waiting_ends_the_plugin_with_one_line(plugin):
    with HTTPFault(silent) as server, silent_udp() as dns_port:
        args = http(server.port) if plugin != "dns" else ["-D", "pryv.test", "-s", "127.0.0.1", "-p", str(dns_port)]
        args += ["-t", "10"]
        process = subprocess.Popen([plugin_path("check_pryv_" + plugin), *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=dict(os.environ, PRYV_ACCESS_TOKEN=TOKEN))
        if plugin == "dns":
            time.sleep(1.5)
        else:
            wait_for(lambda: server.connections)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=5)
    assert (stdout, stderr, process.returncode) == ("%s UNKNOWN - terminated by SIGINT\n" % SERVICE[plugin], "", 3)


def caught(pid, number):
    """Whether process `pid` has a handler for signal `number` (SigCgt in /proc/PID/status)."""
    try:
        with open("/proc/%d/status" % pid) as status:
            mask = next(line for line in status if line.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(mask, 16) & (1 << (number - 1)))


@pytest.mark.parametrize("command, expected, code", [
    ("check_pryv_core", ("PRYV_CORE UNKNOWN - terminated by SIGTERM\n", ""), 3),
    ("check_pryv_dns", ("PRYV_DNS UNKNOWN - terminated by SIGTERM\n", ""), 3),
    ("check_pryv_platform", ("PRYV_PLATFORM UNKNOWN - terminated by SIGTERM\n", ""), 3),
    ("check_pryv_setup", ("", "check_pryv_setup: error: terminated by SIGTERM\n"), 143),
])
def test_sigterm_as_soon_as_a_handler_is_there_gets_the_line(command, expected, code):
    """The handler comes first, before the libraries load: SIGTERM the moment it is installed."""
    process = subprocess.Popen([plugin_path(command), "-D", "pryv.test", "-t", "10"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    wait_for(lambda: caught(process.pid, signal.SIGTERM) or process.poll() is not None)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=5)
    assert (stdout, stderr) == expected
    assert process.returncode == code


# Runs the installed script in a fresh interpreter that notes, at the first import of each library, whether
# SIGTERM already has its handler.
IMPORT_SPY = """
import runpy, signal, sys
log = open(sys.argv.pop(1), "a")
sys.argv.pop(0)  # "-c": the script becomes argv[0], as when it runs by itself
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in ("nagiosplugin", "requests", "dns"):
            log.write("%s %s\\n" % (name, signal.getsignal(signal.SIGTERM) != signal.SIG_DFL))
            log.flush()
sys.meta_path.insert(0, Spy())
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("command, library", [("check_pryv_core", "requests"), ("check_pryv_register", "requests"),
                                              ("check_pryv_dns", "dns"), ("check_pryv_setup", "requests"),
                                              ("check_pryv_platform", "requests")])
def test_signal_handlers_come_before_the_libraries_load(tmp_path, command, library):
    log = tmp_path / "imports"
    subprocess.run([sys.executable, "-c", IMPORT_SPY, str(log), plugin_path(command), "-D", "pryv.test", "-t", "1",
                    "-I", "127.0.0.1", "-p", "1"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    first = {}
    for line in log.read_text().splitlines():
        name, installed = line.split()
        first.setdefault(name, installed)
    assert first[library] == "True", first
    assert first.get("nagiosplugin", "True") == "True", first


def test_setup_sigint_while_waiting_says_interrupted():
    with HTTPFault(silent) as server:
        process = subprocess.Popen([plugin_path("check_pryv_setup"), *http(server.port)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=dict(os.environ, PRYV_PASSWORD=PASSWORD),
                                   stdin=subprocess.DEVNULL)
        wait_for(lambda: server.connections)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=5)
    assert (stdout, stderr.splitlines()[-1], process.returncode) == ("", "check_pryv_setup: error: interrupted", 130)


# --- 14: each clock-skew threshold alone judges only its own state --------------------------------------

def late_clock(request):
    return json_answer(200, {"events": [], "meta": {"apiVersion": "1.9.3-open", "serverTime": time.time() - 30}})


SKEW = r"-(29\.9|30\.0)\d*s"  # 30 s behind, give or take the request's own milliseconds


@pytest.mark.parametrize("args, state, perfdata", [
    (["--skew-warning", "60"], r"OK - events answered 200 in ", "clock_skew=%s;-60:60 "),
    (["--skew-critical", "60"], r"OK - events answered 200 in ", "clock_skew=%s;;-60:60 "),
    (["--skew-warning", "1"], r"WARNING - events answered 200 in \S+ \(API 1\.9\.3-open\); server clock off by %s \| ",
     "clock_skew=%s;-1:1 "),
    (["--skew-critical", "1"], r"CRITICAL - events answered 200 in \S+ \(API 1\.9\.3-open\); server clock off by %s \| ",
     "clock_skew=%s;;-1:1 "),
])
def test_one_skew_threshold_alone_judges_only_its_state(args, state, perfdata):
    with HTTPFault(answer(late_clock)) as server:
        result = core(server.port, *args)
    clean(result, TOKEN)
    assert re.match("PRYV_CORE " + state.replace("%s", SKEW), result.stdout), result.stdout
    assert re.search(r"\| " + perfdata % SKEW, result.stdout), result.stdout
    assert result.returncode == {"OK": 0, "WARNING": 1, "CRITICAL": 2}[state.split()[0]]


# --- 15, 19: interim answers skipped, and the right words for odd answers -------------------------------

@pytest.mark.parametrize("interim", [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                                     b"HTTP/1.1 102 Processing\r\n\r\n"])
def test_interim_answers_before_the_final_one_are_skipped(interim):
    with HTTPFault(answer(lambda head: interim + pryv_ok(head))) as server:
        result = run_plugin("check_pryv_register", *http(server.port))
    assert first_line(result).startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in ")
    assert result.returncode == 0


ODD_ANSWERS = {
    "malformed chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                        "CRITICAL - answer from reg.pryv.test:{port} (127.0.0.1) incomplete: invalid chunked encoding "
                        "(chunk size 'zz')"),
    "HTTP/2.0 status line": (b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
                             "CRITICAL - no answer from reg.pryv.test:{port} (127.0.0.1): not an HTTP/1.x answer: "
                             "'HTTP/2.0'"),
    "304": (b"HTTP/1.1 304 Not Modified\r\n\r\n",
            "CRITICAL - register answered 304 Not Modified to a request that asked for no cached copy"),
    "302 without Location": (http_response(302), "CRITICAL - register answered 302 redirect without a Location"),
}


@pytest.mark.parametrize("case", list(ODD_ANSWERS))
def test_odd_answers_say_what_happened(case):
    data, expected = ODD_ANSWERS[case]
    with HTTPFault(answer(data)) as server:
        result = run_plugin("check_pryv_register", *http(server.port))
    clean(result)
    assert first_line(result) == "PRYV_REGISTER " + expected.format(port=server.port)
    assert result.returncode == 2


# --- 16: DNS: a truncated answer whose TCP retry fails is that server's failure, and the next is asked -----

def truncated(data):
    response = dns.message.make_response(dns.message.from_wire(data))
    response.flags |= dns.flags.TC
    return response.to_wire()


def healthy(data):
    query = dns.message.from_wire(data)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "127.0.0.1"))
    return response.to_wire()


@pytest.mark.parametrize("tcp, outcome", [
    ("closes", "truncated over UDP, and the TCP retry was closed without an answer"),
    ("closed port", "truncated over UDP, and the TCP retry failed: connection refused"),
])
def test_dns_truncated_answer_whose_tcp_retry_fails(tcp, outcome):
    with contextlib.ExitStack() as stack:
        port = (stack.enter_context(HTTPFault(close_at_once)).port if tcp == "closes"
                else stack.enter_context(closed_port()))
        stack.enter_context(udp_responder(truncated, port=port))
        alone = run_plugin("check_pryv_dns", "-D", "pryv.test", "-s", "127.0.0.1", "-p", str(port), "-t", "3", "-v")
        stack.enter_context(udp_responder(healthy, host="127.0.0.2", port=port))
        second = run_plugin("check_pryv_dns", "-D", "pryv.test", "-s", "127.0.0.1", "-s", "127.0.0.2", "-p", str(port),
                            "-t", "3", "-v")
    clean(alone)
    assert alone.stdout.splitlines()[0] == ("PRYV_DNS CRITICAL - healthmetrics01.pryv.test: no usable answer: %s "
                                            "from 127.0.0.1" % outcome)
    assert alone.returncode == 2
    clean(second)
    assert second.stdout.startswith("PRYV_DNS OK - healthmetrics01.pryv.test is 127.0.0.1 (127.0.0.2 in ")
    assert "asked 127.0.0.1: %s" % outcome in second.stdout.splitlines()
    assert second.returncode == 0


# --- 17: each address of a host name gets its share of the time -----------------------------------------

def test_first_address_dropping_syns_leaves_time_for_the_second(tmp_path):
    """`two.test` resolves to 127.0.0.1 (a black hole) then 127.0.0.2 (a good register), through /etc/hosts
    in a private mount namespace."""
    unshare = require_binary("unshare")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 two.test\n127.0.0.2 two.test\n")
    with black_hole() as port, HTTPFault(answer(pryv_ok), host="127.0.0.2", port=port):
        probe = subprocess.run([unshare, "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && getent ahostsv4 two.test',
                                str(hosts)], capture_output=True, text=True)
        if probe.returncode != 0:
            cannot("no private mount namespace here: %s" % probe.stderr.strip())
        order = [line.split()[0] for line in probe.stdout.splitlines() if "STREAM" in line]
        assert order == ["127.0.0.1", "127.0.0.2"], probe.stdout
        started = time.monotonic()
        result = subprocess.run([unshare, "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts),
                                 plugin_path("check_pryv_register"), "-H", "two.test", "-p", str(port), "--scheme",
                                 "http", "-t", "4", "-v"], capture_output=True, text=True, timeout=30)
        elapsed = time.monotonic() - started
    assert result.stdout.startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in "), result.stdout
    assert "connected to: 127.0.0.2" in result.stdout.splitlines()
    assert result.returncode == 0 and elapsed < 4.5


# --- 18: a certificate with a malformed SAN entry is still judged on its expiry ---------------------------

def self_signed_server_context(tmp_path, not_before, not_after, alt_names=()):
    """A TLS server context whose self-signed certificate for reg.pryv.test has this validity and these
    subjectAltName entries (cryptography's x509 names)."""
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reg.pryv.test")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(not_before).not_valid_after(not_after))
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(alt_names)), critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    return context


def certificate_with_an_8_byte_ip(tmp_path, days):
    from cryptography import x509

    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName("reg.pryv.test"), x509.IPAddress(ipaddress.IPv4Network("10.0.0.0/8"))]  # 8 bytes
    return self_signed_server_context(tmp_path, now - datetime.timedelta(days=1), now + datetime.timedelta(days=days),
                                      names)


@pytest.mark.parametrize("days, state, words", [
    (100, "OK", r"OK - certificate of reg\.pryv\.test valid for 99\.9 days \(until \d{4}-\d\d-\d\d\); register knows "
                r"healthmetrics01 \(200 in [0-9.]+s\); database answers \| "),
    (10, "WARNING", r"WARNING - certificate of reg\.pryv\.test valid for 9\.9 days \(until \d{4}-\d\d-\d\d\); register "
                    r"knows healthmetrics01 \(200 in [0-9.]+s\) \| ")])
def test_certificate_with_a_malformed_ip_address_is_judged_on_its_expiry(tmp_path, days, state, words):
    with HTTPFault(answer(pryv_ok), certificate_with_an_8_byte_ip(tmp_path, days)) as server:
        result = run_plugin("check_pryv_register", "-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port),
                            "--insecure", "--certificate-days", "30", "-t", "3", "-v")
    clean(result)
    assert re.match("PRYV_REGISTER " + words, result.stdout.replace("\n", " | ", 1)), result.stdout
    assert "certificate names: reg.pryv.test, (an IP address of 8 bytes, not readable)" in result.stdout.splitlines()
    assert re.search(r"certificate_days=%d\.\d;30:;0:" % (days - 1), result.stdout), result.stdout
    assert result.returncode == {"OK": 0, "WARNING": 1}[state]


def test_token_file_of_another_user_says_whose_it_is_and_what_to_run():
    """A sandbox or check_pryv_setup run as root leaves a token file the monitoring user cannot read: the one
    line names its owner, the user the check runs as, and what to run."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run the plugin as another user")
    plugin = plugin_path("check_pryv_core")
    try:
        probe = subprocess.run([plugin, "--version"], user="nobody", capture_output=True, timeout=30).returncode
    except PermissionError:
        probe = None
    if probe not in (0, 3):  # a virtualenv's python under /root: nobody cannot run it (the .deb's plugins it can)
        pytest.skip("the user nobody cannot run %s" % plugin)
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o755)
    token_file = os.path.join(folder, "token")
    with open(token_file, "w") as file:
        file.write("root0only0token0file\n")
    os.chmod(token_file, 0o600)
    try:
        result = subprocess.run([plugin, "--hostname", "localhost", "--token-file", token_file], user="nobody",
                                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout == (
        "PRYV_CORE UNKNOWN - cannot read the token file %s: Permission denied: it belongs to root and this check "
        "runs as nobody: give it to nobody (chown nobody FILE, or check_pryv_setup --owner nobody), or run what "
        "writes it as nobody (see --help)\n" % token_file), result.stdout
