"""check_pryv_register's database question (default) and --auth-request against the real Pryv.io server
(open-pryv.io v2), in both modes, healthy and with its PostgreSQL stopped.

The server answers check_username for a name it found before from a cache that never expires
(components/storage/src/usersLocalIndex.ts, components/cache/src/index.ts): with PostgreSQL stopped, the health
account's answer stays 200, while a fresh name and POST /reg/access reach the database and fail; the sandbox's
fault database=down answers those calls as the server does then. The module runs a
platform of its own, since stopping its database would disturb the session's other tests.
"""
import re

import pytest
import requests

from check_pryv.sandbox import Sandbox
from conftest import cannot, run_plugin
from realserver import running_real_server

USER = "healthregdb01"
PASSWORD = "regdb-pass-1"  # a throwaway account on a throwaway platform
TIME = r"\d+\.\d{3}s"
PERF_TIME = r"time=\d+\.?\d*s;;;0;10$"
AUTH_PERF = r"auth_request_time=\d+\.?\d*s;;;0;10$"
MODES = ["dnsless_args", "dns_mode_args"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A real platform of this module's own, with the health account made by check_pryv_setup."""
    with running_real_server(cannot) as server:
        token_file = tmp_path_factory.mktemp("register-database") / "health.token"
        made = run_plugin("check_pryv_setup", *server.dnsless_args(), "--username", USER, "--token-file",
                          str(token_file), env={"PRYV_PASSWORD": PASSWORD}, timeout=60)
        assert made.returncode == 0, made.stdout + made.stderr
        yield server


def register(server, mode, *extra):
    return run_plugin("check_pryv_register", *getattr(server, mode)(), "--username", USER, *extra)


def assert_line(result, code, pattern):
    assert result.returncode == code, result.stdout + result.stderr
    assert re.match(pattern, result.stdout.splitlines()[0]), result.stdout


@pytest.mark.parametrize("mode", MODES)
def test_register_default_asks_the_database_too(platform, mode):
    assert_line(register(platform, mode), 0,
                r"PRYV_REGISTER OK - register knows %s \(200 in %s\); database answers \| %s" % (USER, TIME, PERF_TIME))


@pytest.mark.parametrize("mode", MODES)
def test_auth_request_answers_need_signin_twice(platform, mode):
    result = register(platform, mode, "--auth-request", "-v")
    assert_line(result, 0, r"PRYV_REGISTER OK - auth request answered NEED_SIGNIN, and its poll too \(%s\)$" % TIME)
    assert re.search(r"^\| %s" % AUTH_PERF, result.stdout, re.M), result.stdout
    poll = "https://%s:%d/reg/access/\\*\\*\\*" % (
        "127.0.0.1" if mode == "dnsless_args" else r"single\.pryv\.test", platform.https_port)
    assert re.search(r"^url: %s$" % poll, result.stdout, re.M), result.stdout  # the key scrubbed like a token


def answers(root, ca_file):
    """What a client reads of the calls that need the database, and of the cached one: status, error id, message
    (the database's port masked)."""
    calls = [("GET", "reg/%s/check_username" % USER, None), ("GET", "reg/fresh01/check_username", None),
             ("POST", "reg/access", {"requestingAppId": "check-pryv", "requestedPermissions": [
                 {"streamId": "check-pryv", "level": "read"}]}), ("GET", "reg/access/nokey01", None)]
    seen = []
    for method, path, body in calls:
        answer = requests.request(method, root + path, json=body, verify=ca_file, timeout=10)
        error = answer.json().get("error") or {}
        seen.append((path, answer.status_code, answer.json().get("reserved"), error.get("id"),
                     re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", error.get("message", ""))))
    return seen


def test_database_stopped_is_critical_while_the_health_account_answers(platform, tmp_path):
    for mode in MODES:  # the health account's answer is in the server's cache from here on
        assert register(platform, mode).returncode == 0
    platform.stop_database()
    try:
        for mode in MODES:
            assert_line(register(platform, mode), 2,
                        r"PRYV_REGISTER CRITICAL - register knows %s \(200 in %s\); register database answered 500 "
                        r"unexpected-error: Unexpected error: connect ECONNREFUSED 127\.0\.0\.1:%d \| %s"
                        % (USER, TIME, platform.postgres.port, PERF_TIME))
            # the server hides this one's cause behind its generic message
            assert_line(register(platform, mode, "--auth-request"), 2,
                        r"PRYV_REGISTER CRITICAL - auth request refused: 500 unexpected-error: An unexpected error "
                        r"occurred\. Our bad! .* \| " + AUTH_PERF)
        with Sandbox(hostname=platform.hostname, username=USER, state_dir=str(tmp_path / "sandbox")) as sandbox:
            sandbox.set_faults(database="down")
            assert answers(platform.public_url, platform.ca_file) == answers(
                "https://%s:%d/" % (sandbox.hostname, sandbox.http_port), sandbox.ca_file)
    finally:
        platform.start_database()
    for mode in MODES:  # the server reconnects by itself
        assert_line(register(platform, mode), 0, r"PRYV_REGISTER OK - register knows %s \(200 in %s\); database "
                                                 r"answers \| " % (USER, TIME))
        assert_line(register(platform, mode, "--auth-request"), 0, r"PRYV_REGISTER OK - auth request answered ")
