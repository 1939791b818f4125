"""check_pryv_core against the sandbox, over real sockets: every state, both modes, and the token kept secret."""
import os
import re

import pytest

from conftest import dns_mode_args, dnsless_args, run_plugin

PERF = r"clock_skew=-?\d+\.?\d*s time=\d+\.?\d*s;;;0;10$"


def first_line(result):
    return result.stdout.splitlines()[0]


def core(sb, *extra, mode=dns_mode_args, env=None):
    return run_plugin("check_pryv_core", *mode(sb), "--token-file", sb.token_file, *extra, env=env)


@pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_core_events_answered_is_ok(sandbox, mode):
    result = core(sandbox, mode=mode)
    assert result.returncode == 0, result.stdout
    assert re.match(r"PRYV_CORE OK - events answered 200 in \d\.\d{3}s \(API 1\.9\.3-open\) \| " + PERF,
                    first_line(result)), result.stdout
    assert result.stderr == ""


def test_core_token_from_environment(sandbox):
    result = run_plugin("check_pryv_core", *dnsless_args(sandbox), env={"PRYV_ACCESS_TOKEN": sandbox.token})
    assert result.returncode == 0, result.stdout


def test_core_token_file_with_trailing_newline_is_accepted(sandbox, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(sandbox.token + "\n")
    result = run_plugin("check_pryv_core", *dnsless_args(sandbox), "--token-file", str(token_file))
    assert result.returncode == 0, result.stdout


def test_core_token_rejected_is_critical(sandbox):
    sandbox.set_faults(token="rejected")
    result = core(sandbox)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith("PRYV_CORE CRITICAL - access token rejected (403 invalid-access-token): "
                                         "Cannot find access from token | clock_skew=")


def test_core_expired_access_is_critical(sandbox):
    sandbox.set_faults(token="expired")
    result = core(sandbox, mode=dnsless_args)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_CORE CRITICAL - access forbidden (403 forbidden): Access has expired | clock_skew=")


def test_core_unknown_user_is_critical(sandbox):
    sandbox.set_faults(account="gone")
    result = core(sandbox)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        'PRYV_CORE CRITICAL - unknown user (404 unknown-resource): Unknown user "healthmetrics01" | clock_skew=')


def test_core_down_behind_nginx_is_critical(sandbox):
    sandbox.set_faults(core="down")
    result = core(sandbox)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_CORE CRITICAL - core answered 502 HTML page '502 Bad Gateway' | time=")


def test_core_no_token_is_unknown(sandbox):
    result = run_plugin("check_pryv_core", *dns_mode_args(sandbox))
    assert result.returncode == 3
    assert result.stdout == ("PRYV_CORE UNKNOWN - no access token: give --token-file FILE "
                             "or set PRYV_ACCESS_TOKEN (see --help)\n")


def test_core_empty_token_is_unknown(sandbox):
    result = run_plugin("check_pryv_core", *dns_mode_args(sandbox), env={"PRYV_ACCESS_TOKEN": ""})
    assert result.returncode == 3
    assert result.stdout == "PRYV_CORE UNKNOWN - the access token from PRYV_ACCESS_TOKEN is empty (see --help)\n"


def test_core_unreadable_token_file_is_unknown(sandbox, tmp_path):
    result = run_plugin("check_pryv_core", *dns_mode_args(sandbox), "--token-file", str(tmp_path / "missing"))
    assert result.returncode == 3
    assert result.stdout == ("PRYV_CORE UNKNOWN - cannot read the token file %s: No such file or directory "
                             "(see --help)\n" % (tmp_path / "missing"))


def test_core_clock_skew_beyond_critical_is_critical(sandbox):
    sandbox.set_faults(skew=-120)
    result = core(sandbox, "--skew-warning", "30", "--skew-critical", "60")
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_CORE CRITICAL - events answered 200 in \d\.\d{3}s \(API 1\.9\.3-open\); "
                    r"server clock off by -1[12]\d\.\d{3}s \| clock_skew=-1[12]\d\.\d+s;-30:30;-60:60 time=",
                    first_line(result)), result.stdout


def test_core_clock_skew_beyond_warning_is_warning(sandbox):
    sandbox.set_faults(skew=45)
    result = core(sandbox, "--skew-warning", "30", "--skew-critical", "60")
    assert result.returncode == 1, result.stdout
    assert "; server clock off by +4" in first_line(result)


def test_core_negative_skew_without_thresholds_is_only_perfdata(sandbox):
    # nagiosplugin's default range 0: would turn a negative value CRITICAL
    sandbox.set_faults(skew=-120)
    result = core(sandbox)
    assert result.returncode == 0, result.stdout
    assert re.search(r"\| clock_skew=-1[12]\d\.\d+s time=", first_line(result)), result.stdout


def test_core_address_keeps_host_header_and_sni(sandbox):
    # the certificate is checked against USER.DOMAIN although the connection goes to 127.0.0.1
    result = core(sandbox, "-v")
    assert result.returncode == 0, result.stdout
    assert "url: https://healthmetrics01.pryv.test:%d/events?limit=1" % sandbox.http_port in result.stdout


@pytest.mark.parametrize("fault", [{}, {"token": "rejected"}, {"core": "down"}, {"account": "gone"}],
                         ids=["ok", "rejected", "down", "gone"])
@pytest.mark.parametrize("verbosity", ["", "-v", "-vv", "-vvv"])
def test_core_token_never_in_output(sandbox, fault, verbosity):
    sandbox.set_faults(**fault)
    extra = [verbosity] if verbosity else []
    for result in (core(sandbox, *extra),
                   run_plugin("check_pryv_core", *dns_mode_args(sandbox), "--token", sandbox.token, *extra),
                   run_plugin("check_pryv_core", *dnsless_args(sandbox), *extra,
                              env={"PRYV_ACCESS_TOKEN": sandbox.token})):
        assert result.stdout.startswith("PRYV_CORE ")
        assert sandbox.token not in result.stdout + result.stderr


def test_core_plain_http_sandbox(tmp_path):
    from check_pryv.sandbox import Sandbox

    with Sandbox(scheme="http", state_dir=str(tmp_path)) as sb:
        result = run_plugin("check_pryv_core", *dnsless_args(sb), "--token-file", sb.token_file)
        assert result.returncode == 0, result.stdout
        assert os.path.exists(sb.token_file)
