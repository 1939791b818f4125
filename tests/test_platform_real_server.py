"""check_pryv_platform against the real Pryv.io server (open-pryv.io v2 on PostgreSQL behind nginx's TLS), in both
modes (DNS mode: nginx's reg.DOMAIN and USER.DOMAIN, and the server's own DNS code): all OK on the healthy platform,
and the broken part named when a core is down or the register has lost the account."""
import json
import re

import pytest

from conftest import run_plugin

USER = "healthplatform01"  # this module's own account: other modules share the session's server
PASSWORD = "platform-pass-1"  # a throwaway account on a throwaway platform
DNSLESS = ["register", "hostings", "service-info", "auth-request", "core", "write", "series", "attachment",
           "notifications", "certificate"]


@pytest.fixture(scope="module")
def token_file(real_server, tmp_path_factory):
    """The module's health account, made by check_pryv_setup: its token file."""
    path = tmp_path_factory.mktemp("real-platform") / "health.token"
    made = run_plugin("check_pryv_setup", *real_server.dnsless_args(), "--username", USER, "--token-file", str(path),
                      env={"PRYV_PASSWORD": PASSWORD}, timeout=60)
    assert made.returncode == 0, made.stderr
    return path


def platform(args, token_file, *extra, username=USER):
    return run_plugin("check_pryv_platform", *args, "--username", username, "--token-file", str(token_file), *extra)


def first_line(result):
    return result.stdout.splitlines()[0] if result.stdout else ""


def test_real_platform_dnsless_all_ok(real_server, token_file):
    result = platform(real_server.dnsless_args(), token_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert first_line(result).startswith("PRYV_PLATFORM OK - 10 checks OK: %s | " % ", ".join(DNSLESS))
    for name in DNSLESS:  # the real server's HFS, file storage and socket.io too
        assert re.search(r"\n%s +OK " % name, result.stdout), result.stdout
    assert token_file.read_text().strip() not in result.stdout + result.stderr


def test_real_platform_dns_mode_all_ok(real_server, real_dns, token_file):
    # the server runs DNS-less: its service info names its DNS-less URLs (service-info is CRITICAL in DNS mode)
    result = platform(real_server.dns_mode_args(), token_file, "--dns-server", "127.0.0.1", "--dns-port",
                      str(real_dns.port), "--checks", "dns,register,hostings,core,write,certificate", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["state"] == "OK"
    assert [(c["name"], c["state"]) for c in data["checks"]] == [
        (name, "OK") for name in ("dns", "register", "hostings", "core", "write", "certificate")]
    assert data["checks"][0]["message"].startswith("%s.%s is 127.0.0.1 (127.0.0.1 in " % (USER, real_dns.domain))


def test_real_platform_core_down_is_critical_and_named(real_server, token_file):
    real_server.stop_backend()  # nginx stays up: every call gets its 502
    try:
        result = platform(real_server.dnsless_args(), token_file, "--checks", "register,core,certificate")
    finally:
        real_server.start_backend()
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_PLATFORM CRITICAL - register: register answered 502 HTML page '502 Bad Gateway'; "
                    r"core: core answered 502 HTML page '502 Bad Gateway' \| ", first_line(result)), result.stdout
    assert re.search(r"\ncertificate +OK ", result.stdout)  # nginx's TLS still answers


def test_real_platform_register_that_lost_the_account_is_named(real_server, tmp_path):
    gone, path = "healthplatgone01", tmp_path / "gone.token"
    made = run_plugin("check_pryv_setup", *real_server.dnsless_args(), "--username", gone, "--token-file", str(path),
                      env={"PRYV_PASSWORD": PASSWORD}, timeout=60)
    assert made.returncode == 0, made.stderr
    assert real_server.delete_user(gone).status_code == 200
    result = platform(real_server.dnsless_args(), path, "--checks", "register,core", username=gone)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        'PRYV_PLATFORM CRITICAL - core: unknown user (404 unknown-resource): Unknown user "%s"; register: register '
        "answers but no longer knows %s (reserved: false) | " % (gone, gone)), result.stdout


def test_real_platform_without_token_names_core(real_server, token_file):
    result = run_plugin("check_pryv_platform", *real_server.dnsless_args(), "--username", USER)
    assert result.returncode == 3, result.stdout
    assert first_line(result).startswith("PRYV_PLATFORM UNKNOWN - core: no access token: give --token-file FILE or "
                                         "set PRYV_ACCESS_TOKEN | register_time="), result.stdout
    assert re.search(r"\nwrite +not run +- +no access token\n", result.stdout), result.stdout
    assert re.search(r"\nregister +OK ", result.stdout), result.stdout
