"""check_pryv_platform against the sandbox, over real sockets: every check at once, in both modes; the worst state
and the broken part named; the checks concurrent within the one -t; --json; colours; no secret in any output."""
import json
import os
import pty
import re
import subprocess
import time

import pytest

from conftest import dns_mode_args, dnsless_args, plugin_path, run_plugin

ALL = ["dns", "register", "hostings", "service-info", "auth-request", "core", "write", "series", "attachment",
       "notifications", "certificate"]


def dns_args(sb):
    return dns_mode_args(sb) + ["--dns-server", "127.0.0.1", "--dns-port", str(sb.dns_port)]


def platform(sb, *extra, mode=dns_args, env=None, token=True):
    return run_plugin("check_pryv_platform", *mode(sb), *(["--token-file", sb.token_file] if token else []), *extra,
                      env=env)


def first_line(result):
    return result.stdout.splitlines()[0]


def rows(result):
    """The table: {check: (state, message)}."""
    lines = result.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("check ")))
    table = {}
    for line in lines[header + 1:]:
        if not line:
            break
        match = re.match(r"(\S+) +(OK|WARNING|CRITICAL|UNKNOWN|not run) +(\d+\.\d{3}|-)  (.*)$", line)
        assert match, line
        table[match.group(1)] = (match.group(2), match.group(4))
    return table


@pytest.fixture
def healthy(sandbox):
    sandbox.set_faults(hostings="all-available")  # DNS mode's hosting2 is closed to new accounts by default
    return sandbox


@pytest.mark.parametrize("mode", [dns_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_platform_healthy_is_ok_in_both_modes(healthy, mode):
    result = platform(healthy, mode=mode)
    assert result.returncode == 0, result.stdout
    ran = ALL if mode == dns_args else ALL[1:]
    assert re.match(r"PRYV_PLATFORM OK - %d checks OK: %s \| " % (len(ran), ", ".join(ran)), first_line(result))
    assert re.search(r" core_time=\d+\.?\d*s;;;0;10 .*write_write_time=\d+\.?\d*s;;;0 .*"
                     r"certificate_certificate_days=\d+\.\d;14:;7: .* time=\d+\.?\d*s;;;0;10$", first_line(result))
    table = rows(result)
    assert {name: state for name, (state, _) in table.items()} == dict(
        {name: "OK" for name in ran}, **({} if mode == dns_args else {"dns": "not run"}))
    assert table["register"][1].startswith("register knows healthmetrics01 (200 in ")
    assert table["core"][1].startswith("events answered 200 in ")
    assert table["write"][1] in ("event written and read back",
                                 "first run: stream check-pryv and its event created, read back")
    if mode == dnsless_args:
        assert table["dns"][1] == "DNS-less mode (no DNS of its own)"
    assert result.stderr == ""
    assert "\033[" not in result.stdout  # no colour off a terminal


def test_platform_core_down_is_critical_and_named(healthy):
    healthy.set_faults(core="down")
    result = platform(healthy)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_PLATFORM CRITICAL - core: core answered 502 HTML page '502 Bad Gateway' | ")
    table = rows(healthy and result)
    assert table["core"][0] == "CRITICAL"
    assert table["write"] == ("not run", "not tried: core failed")
    assert {table[name][0] for name in ("dns", "register", "hostings", "service-info", "certificate")} == {"OK"}


def test_platform_register_that_lost_the_account_is_named(healthy):
    healthy.set_faults(account="gone")
    result = platform(healthy, mode=dnsless_args)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        'PRYV_PLATFORM CRITICAL - core: unknown user (404 unknown-resource): Unknown user "healthmetrics01"; '
        "register: register answers but no longer knows healthmetrics01 (reserved: false) | ")
    assert rows(result)["register"][0] == "WARNING"


def test_platform_one_warning_is_the_worst_state(sandbox):
    result = platform(sandbox)  # the sandbox's DNS-mode hosting2 is closed to new accounts
    assert result.returncode == 1, result.stdout
    assert first_line(result).startswith(
        "PRYV_PLATFORM WARNING - hostings: 1 of 2 hostings available; not available: hosting2 | ")


def test_platform_rejected_token_is_critical(healthy):
    healthy.set_faults(token="rejected")
    result = platform(healthy)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith("PRYV_PLATFORM CRITICAL - core: access token rejected (403 "
                                         "invalid-access-token): Cannot find access from token | ")
    assert rows(result)["write"] == ("not run", "not tried: core failed")


def test_platform_without_token_names_core_and_still_runs_the_others(healthy):
    result = platform(healthy, token=False)
    assert result.returncode == 3, result.stdout
    assert first_line(result).startswith("PRYV_PLATFORM UNKNOWN - core: no access token: give --token-file FILE or "
                                         "set PRYV_ACCESS_TOKEN | ")
    table = rows(result)
    assert table["core"] == ("UNKNOWN", "no access token: give --token-file FILE or set PRYV_ACCESS_TOKEN")
    assert table["write"] == ("not run", "no access token")
    assert {table[name][0] for name in ("dns", "register", "hostings", "service-info", "certificate")} == {"OK"}


def test_platform_critical_outranks_a_check_that_could_not_judge(healthy):
    healthy.set_faults(register="failing")
    result = platform(healthy, "--checks", "register,core", token=False)
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_PLATFORM CRITICAL - register: register answered 500 .*; core: no access token",
                    first_line(result)), result.stdout


def test_platform_checks_run_concurrently(healthy):
    healthy.set_faults(delay=0.3)
    started = time.monotonic()
    result = platform(healthy, "--checks", "hostings,service-info")  # one call each (register makes two)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout
    total = float(re.search(r" time=(\d+\.?\d*)s;;;0;10$", first_line(result)).group(1))
    each = [float(x) for x in re.findall(r"(?:hostings|service_info)_time=(\d+\.?\d*)s", first_line(result))]
    assert len(each) == 2 and min(each) >= 0.3, first_line(result)
    assert 0.3 <= total < 0.58, first_line(result)  # one after the other: over 0.6 (two delays of 0.3 s)
    assert elapsed < 1.5


def test_platform_timeout_is_critical_within_the_one_deadline(healthy):
    healthy.set_faults(delay=5)
    started = time.monotonic()
    result = platform(healthy, "--checks", "register,core", "--timeout", "2", mode=dnsless_args)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_PLATFORM CRITICAL - register: no answer from localhost:\d+ \(127\.0\.0\.1\): timed out "
                    r"after 1\.\d+s; core: no answer from localhost:\d+ \(127\.0\.0\.1\): timed out after 1\.\d+s \| ",
                    first_line(result)), result.stdout
    assert elapsed < 2.5


def test_platform_json_is_parsed(healthy):
    healthy.set_faults(core="down")
    result = platform(healthy, "--json", mode=dnsless_args)
    assert result.returncode == 2, result.stdout
    data = json.loads(result.stdout)
    assert data["state"] == "CRITICAL"
    checks = {check["name"]: check for check in data["checks"]}
    assert list(checks) == ["register", "hostings", "service-info", "auth-request", "core", "certificate"]
    assert checks["core"]["state"] == "CRITICAL"
    assert checks["core"]["message"] == "core answered 502 HTML page '502 Bad Gateway'"
    assert checks["register"]["state"] == "OK" and checks["register"]["seconds"] > 0
    assert any(p.startswith("time=") for p in checks["register"]["perfdata"])
    parts = ("write", "series", "attachment", "notifications")
    assert data["not_run"] == [{"name": "dns", "reason": "DNS-less mode (no DNS of its own)"}] + [
        {"name": name, "reason": "not tried: core failed"} for name in parts]
    assert 0 < data["seconds"] < 10


def test_platform_unknown_check_is_unknown_and_named(sandbox):
    result = platform(sandbox, "--checks", "core,serise")
    assert result.returncode == 3
    assert result.stdout == ("PRYV_PLATFORM UNKNOWN - argument --checks: unknown check 'serise' (known: %s) "
                             "(see --help)\n" % ", ".join(ALL))


def test_platform_check_that_does_not_apply_is_a_usage_error(sandbox):
    result = platform(sandbox, "--checks", "dns", mode=dnsless_args)
    assert result.returncode == 3
    assert result.stdout == ("PRYV_PLATFORM UNKNOWN - --checks dns does not apply: DNS-less mode (no DNS of its own) "
                             "(see --help)\n")


def test_platform_checks_asks_only_those_and_write_brings_core(healthy):
    result = platform(healthy, "--checks", "write", mode=dnsless_args)
    assert result.returncode == 0, result.stdout
    assert first_line(result).startswith("PRYV_PLATFORM OK - 2 checks OK: core, write | core_clock_skew=")
    assert list(rows(result)) == ["core", "write"]


@pytest.mark.parametrize("fault", [{}, {"token": "rejected"}, {"core": "down"}], ids=["ok", "rejected", "down"])
@pytest.mark.parametrize("extra", [[], ["-vvv"], ["--json"]], ids=["plain", "vvv", "json"])
def test_platform_token_never_in_output(healthy, fault, extra):
    healthy.set_faults(**fault)
    for result in (platform(healthy, *extra),
                   run_plugin("check_pryv_platform", *dnsless_args(healthy), "--token", healthy.token, *extra),
                   run_plugin("check_pryv_platform", *dnsless_args(healthy), *extra,
                              env={"PRYV_ACCESS_TOKEN": healthy.token})):
        assert result.stdout.startswith("PRYV_PLATFORM " if not extra == ["--json"] else "{")
        assert healthy.token not in result.stdout + result.stderr


def test_platform_verbose_adds_each_check_details(healthy):
    result = platform(healthy, "-v", mode=dnsless_args)
    assert result.returncode == 0, result.stdout
    assert "\ncore:\n  url: https://localhost:%d/healthmetrics01/events?limit=1\n" % healthy.http_port in result.stdout
    # the sandbox's certificate: the year 3000 with a recent trustme, 2038 with Debian's trustme 0.9
    assert "\ncertificate:\n" in result.stdout and re.search(r"\n  certificate expires: (3000|2038)-01-01", result.stdout)


def on_terminal(sb, env):
    """The plugin's output when its stdout is a terminal."""
    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PRYV_ACCESS_TOKEN")}
    full_env.update(env)
    process = subprocess.Popen([plugin_path("check_pryv_platform"), *dnsless_args(sb), "--token-file",
                                sb.token_file, "--checks", "register,core"], stdout=follower,
                               stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=full_env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the plugin closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=30) == 0, output
    return output.decode()


def test_platform_colours_on_a_terminal_only_without_no_color(healthy):
    assert "\033[32mOK      \033[0m" in on_terminal(healthy, {})
    assert "\033[" not in on_terminal(healthy, {"NO_COLOR": "1"})


def reader_token_file(sb, tmp_path):
    """A token file of a shared access with `read` on every stream, made with the account's personal token."""
    import requests

    base = "https://localhost:%d/%s/" % (sb.http_port, sb.username)
    login = requests.post(base + "auth/login", verify=sb.ca_file, headers={"Origin": "https://localhost"}, timeout=10,
                          json={"username": sb.username, "password": sb.password, "appId": "check-pryv-tests"})
    made = requests.post(base + "accesses", verify=sb.ca_file, headers={"Authorization": login.json()["token"]},
                         json={"name": "reader", "permissions": [{"streamId": "*", "level": "read"}]}, timeout=10)
    assert made.status_code == 201, made.text
    path = tmp_path / "reader.token"
    path.write_text(made.json()["access"]["token"])
    return str(path)


def test_platform_write_runs_by_default_only_when_the_access_may_write(healthy, tmp_path):
    reader = reader_token_file(healthy, tmp_path)
    result = run_plugin("check_pryv_platform", *dnsless_args(healthy), "--token-file", reader)
    assert result.returncode == 0, result.stdout
    assert first_line(result).startswith("PRYV_PLATFORM OK - 6 checks OK: register, hostings, service-info, "
                                         "auth-request, core, certificate | ")
    for name in ("write", "series", "attachment", "notifications"):
        assert rows(result)[name] == ("not run", "the access has 'read' on stream check-pryv, not contribute or "
                                                 "manage (--%s runs it)" % name)
    asked = run_plugin("check_pryv_platform", *dnsless_args(healthy), "--token-file", reader, "--write")
    assert asked.returncode == 2, asked.stdout
    assert first_line(asked).startswith("PRYV_PLATFORM CRITICAL - write: creating the stream refused: 403 forbidden")


def test_platform_body_that_drips_ends_within_the_timeout():
    """A body that drips one byte a second keeps a read going past any per-call timeout: the main thread stops
    waiting at the deadline and reports that check, still in time."""
    from faultservers import HTTPFault, drip

    with HTTPFault(drip) as server:
        started = time.monotonic()
        result = run_plugin("check_pryv_platform", "--hostname", "localhost", "--address", "127.0.0.1", "--port",
                            str(server.port), "--scheme", "http", "--checks", "register", "--timeout", "3")
        elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith("PRYV_PLATFORM CRITICAL - register: did not finish within 3s | time="), \
        result.stdout
    assert elapsed < 3.1


def test_platform_sigterm_while_the_checks_wait_gets_the_line():
    """Icinga's SIGTERM reaches the main thread while it waits for the checks' threads: one line, UNKNOWN."""
    from faultservers import HTTPFault, silent

    with HTTPFault(silent) as server:
        process = subprocess.Popen([plugin_path("check_pryv_platform"), "--hostname", "localhost", "--address",
                                    "127.0.0.1", "--port", str(server.port), "--scheme", "http", "--checks",
                                    "register,hostings", "--timeout", "20"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while len(server.connections) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.terminate()
        stdout, stderr = process.communicate(timeout=5)
    assert (stdout, stderr, process.returncode) == ("PRYV_PLATFORM UNKNOWN - terminated by SIGTERM\n", "", 3)


def test_platform_series_left_out_where_service_info_says_no_hf(healthy):
    """A platform without an HFS says so in service/info (v2's features.noHF): a default run leaves series out,
    saying why; asked for, series runs and is CRITICAL (the API's 502)."""
    healthy.set_faults(hfs="none")
    result = platform(healthy, mode=dnsless_args)
    assert result.returncode == 0, result.stdout
    assert rows(result)["series"] == ("not run", "service/info says noHF (no HFS on this platform) (--series runs it)")
    assert {rows(result)[name][0] for name in ("write", "attachment", "notifications")} == {"OK"}
    asked = platform(healthy, "--series", mode=dnsless_args)
    assert asked.returncode == 2, asked.stdout
    assert first_line(asked).startswith("PRYV_PLATFORM CRITICAL - series: series: writing the point refused: 502 "
                                        "unexpected-error: HFS upstream unreachable | "), asked.stdout


@pytest.mark.parametrize("fault, check, message", [
    ({"hfs": "dead"}, "series", "series: writing the point refused: 502 unexpected-error: HFS upstream unreachable"),
    ({"file_storage": "gone"}, "attachment", "attachment: upload refused: 500 unexpected-error: "),
    ({"notifications": "upgrade-refused"}, "notifications", "notifications: WebSocket upgrade refused: 400"),
    ({"auth_request": "failing"}, "auth-request", ""),
])
def test_platform_names_the_broken_part_of_the_core(healthy, fault, check, message):
    """Each of the core's parts (and the app sign-in) runs by default with a token that may write, and is named
    when its part of the platform is broken; the others stay OK."""
    healthy.set_faults(**fault)
    result = platform(healthy, mode=dnsless_args)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith("PRYV_PLATFORM CRITICAL - %s: %s" % (check, message)), result.stdout
    table = rows(result)
    assert table[check][0] == "CRITICAL"
    assert {state for name, (state, _) in table.items() if name not in (check, "dns")} == {"OK"}, table
    assert healthy.token not in result.stdout + result.stderr
