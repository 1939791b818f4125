"""check_pryv_register against the sandbox, over real sockets, in DNS mode and DNS-less mode."""
import re

import pytest

from conftest import dns_mode_args, dnsless_args, run_plugin
from faultservers import HTTPFault, answer, json_answer, pryv_ok

TIME = r"\d+\.\d{3}s"
PERF = r" \| time=\d+\.?\d*s;;;0;10$"


def first_line(result):
    return result.stdout.splitlines()[0]


@pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_register_knows_health_account_is_ok(sandbox, mode):
    result = run_plugin("check_pryv_register", *mode(sandbox))
    assert result.returncode == 0, result.stdout
    assert re.match(r"PRYV_REGISTER OK - register knows healthmetrics01 \(200 in %s\); database answers%s"
                    % (TIME, PERF),
                    first_line(result)), result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_register_account_gone_is_warning(sandbox, mode):
    sandbox.set_faults(account="gone")
    result = run_plugin("check_pryv_register", *mode(sandbox))
    assert result.returncode == 1, result.stdout
    assert first_line(result).startswith(
        "PRYV_REGISTER WARNING - register answers but no longer knows healthmetrics01 (reserved: false) | time=")


def test_register_failing_is_critical_with_pryv_error(sandbox):
    sandbox.set_faults(register="failing")
    result = run_plugin("check_pryv_register", *dns_mode_args(sandbox))
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_REGISTER CRITICAL - register answered 500 INTERNAL_ERROR: Internal error | time=")


def test_register_failing_dnsless_body_shape_is_critical(sandbox):
    sandbox.set_faults(register="failing")
    result = run_plugin("check_pryv_register", *dnsless_args(sandbox))
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_REGISTER CRITICAL - register answered 500 unexpected-error: Unexpected error | time=")


def test_register_invalid_username_shows_register_message(sandbox):
    result = run_plugin("check_pryv_register", *dns_mode_args(sandbox), "--username", "abc")
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_REGISTER CRITICAL - register answered 400 INVALID_USER_NAME: Invalid user name | time=")


def test_register_invalid_username_dnsless_shape(sandbox):
    result = run_plugin("check_pryv_register", *dnsless_args(sandbox), "--username", "abc")
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith("PRYV_REGISTER CRITICAL - register answered 400 "
                                         "invalid-parameters-format: The parameters' format is invalid | time=")


def test_register_slow_answer_crosses_thresholds(sandbox):
    sandbox.set_faults(delay=0.3)
    result = run_plugin("check_pryv_register", *dns_mode_args(sandbox), "-w", "0.1", "-c", "5")
    assert result.returncode == 1, result.stdout
    assert re.match(r"PRYV_REGISTER WARNING - register knows healthmetrics01 \(200 in 0\.3\d\ds\); "
                    r"response time 0\.3\d\ds over 0\.1s \| time=0\.3\d*s;0\.1;5;0;10$", first_line(result))


def test_register_wrong_ca_is_critical_at_tls(sandbox, tmp_path):
    import trustme

    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    args = dns_mode_args(sandbox)
    args[args.index("--ca-cert") + 1] = str(other_ca)
    result = run_plugin("check_pryv_register", *args)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_REGISTER CRITICAL - TLS handshake with reg.pryv.test:%d (127.0.0.1) failed: "
        "certificate verify failed: " % sandbox.http_port)


def test_register_insecure_skips_verification(sandbox):
    args = [a for a in dnsless_args(sandbox) if a not in ("--ca-cert", sandbox.ca_file)] + ["--insecure"]
    result = run_plugin("check_pryv_register", *args)
    assert result.returncode == 0, result.stdout


def test_register_connection_refused_is_critical(sandbox):
    result = run_plugin("check_pryv_register", "--domain", "pryv.test", "--address", "127.0.0.1", "--port", "1")
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_REGISTER CRITICAL - cannot connect to reg.pryv.test:1 (127.0.0.1): connection refused | time=")


def test_register_verbose_shows_url_and_status(sandbox):
    result = run_plugin("check_pryv_register", *dns_mode_args(sandbox), "-v")
    lines = result.stdout.splitlines()
    assert result.returncode == 0
    assert "url: https://reg.pryv.test:%d/healthmetrics01/check_username" % sandbox.http_port in lines
    assert "status: 200 OK" in lines
    assert "connected to: 127.0.0.1" in lines
    assert lines[-1].startswith("| time=")


@pytest.mark.parametrize("args, message", [
    ([], "one of the arguments -D/--domain -H/--hostname is required"),
    (["--domain", "pryv.test", "--timeout", "0"], "argument -t/--timeout: invalid timeout '0'"),
    (["--domain", "pryv.test", "--port", "70000"], "argument -p/--port: invalid port '70000'"),
    (["--domain", "pryv.test", "-w", "x:y"], "argument -w/--warning: invalid range 'x:y'"),
    (["--domain", "pryv.test", "--ca-cert", "/nonexistent"], "cannot read --ca-cert /nonexistent"),
    (["--domain", "pryv.test", "--bogus"], "unrecognized arguments: --bogus"),
], ids=["no-mode", "timeout-0", "port", "range", "ca-file", "unknown-option"])
def test_register_bad_arguments_are_unknown(args, message):
    result = run_plugin("check_pryv_register", *args)
    assert result.returncode == 3, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER UNKNOWN - " + message)
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


def test_register_help_explains_and_exits_3():
    result = run_plugin("check_pryv_register", "--help")
    assert result.returncode == 3
    assert "check_username" in result.stdout and "--address" in result.stdout


def test_register_ipv4_only_is_ok(sandbox):
    result = run_plugin("check_pryv_register", *dnsless_args(sandbox), "-4")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in ")


def test_register_ipv6_only_resolves_no_ipv4_address(sandbox):
    """-6 reaches the resolver: an IPv4 literal has no IPv6 address."""
    result = run_plugin("check_pryv_register", "--hostname", "127.0.0.1", "--port", str(sandbox.http_port), "-6")
    assert result.returncode == 2, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER CRITICAL - cannot resolve 127.0.0.1: "
                                    "Address family for hostname not supported | time=")


@pytest.mark.parametrize("argv, message", [
    (["-6", "--address", "127.0.0.1"], "--address 127.0.0.1 is not an IPv6 address, as -6 asks"),
    (["-4", "--address", "::1"], "--address ::1 is not an IPv4 address, as -4 asks"),
    (["-4", "-6"], "argument -6/--ipv6: not allowed with argument -4/--ipv4"),
])
def test_register_ip_version_contradictions_are_unknown(sandbox, argv, message):
    result = run_plugin("check_pryv_register", *dns_mode_args(sandbox)[:2], *argv)
    assert result.returncode == 3, result.stdout
    assert result.stdout == "PRYV_REGISTER UNKNOWN - %s (see --help)\n" % message


@pytest.mark.parametrize("warning, words", [("@5", "inside 0..5s"), ("@0.001:", "at or over 0.001s"),
                                            ("@~:5", "at or under 5s")])
def test_register_inside_range_alert_says_inside(sandbox, warning, words):
    result = run_plugin("check_pryv_register", *dns_mode_args(sandbox), "-w", warning)
    assert result.returncode == 1, result.stdout
    assert re.match(r"PRYV_REGISTER WARNING - register knows healthmetrics01 \(200 in (\d\.\d{3})s\); "
                    r"response time \1s %s \| time=" % re.escape(words), first_line(result)), result.stdout


# ---- the register's database (default) and --auth-request: faults database, auth-request


@pytest.mark.parametrize("mode, error", [
    (dns_mode_args, "500 INTERNAL_ERROR: Internal error"),
    (dnsless_args, "500 unexpected-error: Unexpected error: connect ECONNREFUSED 127.0.0.1:5432"),
], ids=["dns-mode", "dns-less"])
def test_register_database_down_is_critical_though_the_health_account_answers(sandbox, mode, error):
    sandbox.set_faults(database="down")
    result = run_plugin("check_pryv_register", *mode(sandbox), "-v")
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_REGISTER CRITICAL - register knows healthmetrics01 \(200 in %s\); register database "
                    r"answered %s$" % (TIME, re.escape(error)), first_line(result)), result.stdout
    assert re.search(r"^fresh name:\nurl: https://\S+/check-pryv-[0-9a-f]{12}/check_username$", result.stdout,
                     re.M), result.stdout


@pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_auth_request_need_signin_is_ok(sandbox, mode):
    result = run_plugin("check_pryv_register", *mode(sandbox), "--auth-request", "-w", "5")
    assert result.returncode == 0, result.stdout
    assert re.match(r"PRYV_REGISTER OK - auth request answered NEED_SIGNIN, and its poll too \(%s\) \| "
                    r"auth_request_time=\d+\.?\d*s;5;;0;10$" % TIME, first_line(result)), result.stdout


@pytest.mark.parametrize("faults, mode, text", [
    ({"auth-request": "failing"}, dnsless_args, "auth request refused: 500 unexpected-error: An unexpected error "
                                                "occurred. Our bad! Please accept our humble apologies and notify us "
                                                "if it happens repeatedly. Thank ..."),
    ({"database": "down"}, dns_mode_args, "auth request refused: 500 INTERNAL_ERROR: Internal error"),
    ({"auth-request": "lost"}, dnsless_args,
     "auth request poll answered 400 unknown-access-key: Unknown or expired access key"),
    ({"auth-request": "elsewhere"}, dns_mode_args,
     "auth request's poll URL is not on pryv.test (https, port {port}): not followed "
     "(https://access.example.invalid:{port}/access/***)"),
], ids=["failing", "database-down", "lost", "elsewhere"])
def test_auth_request_faults_are_critical(sandbox, faults, mode, text):
    sandbox.set_faults(**faults)
    result = run_plugin("check_pryv_register", *mode(sandbox), "--auth-request", "-vvv")
    assert result.returncode == 2, result.stdout
    assert first_line(result) == "PRYV_REGISTER CRITICAL - " + text.format(port=sandbox.http_port), result.stdout
    assert result.stdout.splitlines()[-1].startswith("| auth_request_time="), result.stdout
    assert not re.search(r"/access/(?!\*\*\*)", result.stdout), result.stdout  # the request's key never shown


def test_auth_request_poll_url_on_the_platform_is_followed_once(sandbox):
    result = run_plugin("check_pryv_register", *dnsless_args(sandbox), "--auth-request", "-v")
    assert result.returncode == 0, result.stdout
    root = "https://localhost:%d/reg/access" % sandbox.http_port
    assert re.findall(r"^url: (.*)$", result.stdout, re.M) == [root, root + "/***"]


@pytest.mark.parametrize("fresh, words", [
    (json_answer(200, {"reserved": True}), "register database says a fresh name is taken (reserved: true)"),
    (b"", "fresh name check: no answer from reg.pryv.test:{port} (127.0.0.1): connection closed without an answer"),
], ids=["taken", "no-answer"])
def test_register_fresh_name_not_free_is_critical(fresh, words):
    """A register that knows the health account, and answers the fresh name otherwise than free."""
    def route(head):
        return pryv_ok(head) if b"/healthmetrics01/check_username" in head.split(b"\r\n", 1)[0] else fresh

    with HTTPFault(answer(route)) as server:
        result = run_plugin("check_pryv_register", "-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port),
                            "--scheme", "http", "-t", "5")
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_REGISTER CRITICAL - register knows healthmetrics01 \(200 in %s\); %s \| time="
                    % (TIME, re.escape(words.format(port=server.port))), first_line(result)), result.stdout
