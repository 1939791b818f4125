"""check_pryv_dns against the sandbox's DNS server over real UDP/TCP sockets."""
import re

import pytest

from conftest import run_plugin


def dns(sb, *extra, timeout="10"):
    return run_plugin("check_pryv_dns", "--domain", sb.domain, "--server", "127.0.0.1",
                      "--port", str(sb.dns_port), "--timeout", timeout, *extra)


def first_line(result):
    return result.stdout.splitlines()[0]


def test_dns_user_cname_to_core_is_ok(sandbox):
    result = dns(sandbox)
    assert result.returncode == 0, result.stdout
    assert re.match(r"PRYV_DNS OK - healthmetrics01\.pryv\.test is 127\.0\.0\.1 via co1\.pryv\.test "
                    r"\(127\.0\.0\.1 in \d\.\d{3}s\) \| time=\d+\.?\d*s;;;0;10$", first_line(result)), result.stdout


def test_dns_aaaa_record(sandbox):
    result = dns(sandbox, "--record-type", "AAAA")
    assert result.returncode == 0, result.stdout
    assert first_line(result).startswith("PRYV_DNS OK - healthmetrics01.pryv.test is ::1 via co1.pryv.test")


def test_dns_expected_address_matches(sandbox):
    assert dns(sandbox, "--expected-address", "127.0.0.1").returncode == 0


def test_dns_unexpected_address_is_critical(sandbox):
    result = dns(sandbox, "--expected-address", "127.0.0.2")
    assert result.returncode == 2
    assert first_line(result).startswith(
        "PRYV_DNS CRITICAL - healthmetrics01.pryv.test is 127.0.0.1, not among the expected 127.0.0.2 | time=")


def test_dns_unknown_user_empty_answer_is_critical(sandbox):
    sandbox.set_faults(account="gone")
    result = dns(sandbox)
    assert result.returncode == 2
    assert first_line(result).startswith("PRYV_DNS CRITICAL - healthmetrics01.pryv.test has no A record "
                                         "(NOERROR, empty answer from 127.0.0.1) | time=")


@pytest.mark.parametrize("fault, text", [
    ("nxdomain", "healthmetrics01.pryv.test does not exist (NXDOMAIN from 127.0.0.1)"),
    ("servfail", "healthmetrics01.pryv.test: no usable answer: SERVFAIL from 127.0.0.1"),
    ("refused", "healthmetrics01.pryv.test: no usable answer: REFUSED from 127.0.0.1"),
    ("empty", "healthmetrics01.pryv.test has no A record (NOERROR, empty answer from 127.0.0.1)"),
])
def test_dns_faults_are_critical(sandbox, fault, text):
    sandbox.set_faults(dns=fault)
    result = dns(sandbox)
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith("PRYV_DNS CRITICAL - %s | time=" % text)


def test_dns_silent_server_is_critical_within_timeout(sandbox):
    sandbox.set_faults(dns="silent")
    result = dns(sandbox, timeout="2")
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith("PRYV_DNS CRITICAL - healthmetrics01.pryv.test: ")
    assert "no answer" in first_line(result)


def test_dns_verbose_names_server_and_rcode(sandbox):
    sandbox.set_faults(dns="refused")
    result = run_plugin("check_pryv_dns", "--domain", sandbox.domain, "--server", "127.0.0.1",
                        "--port", str(sandbox.dns_port), "-v")
    assert "asked 127.0.0.1: REFUSED" in result.stdout.splitlines()


def test_dns_bad_server_address_is_unknown():
    result = run_plugin("check_pryv_dns", "--domain", "pryv.test", "--server", "dns.example")
    assert result.returncode == 3
    assert result.stdout == "PRYV_DNS UNKNOWN - argument -s/--server: invalid IP address 'dns.example' (see --help)\n"


def test_dns_ipv4_asks_an_ipv4_server(sandbox):
    result = dns(sandbox, "-4")
    assert result.returncode == 0, result.stdout
    assert first_line(result).startswith("PRYV_DNS OK - healthmetrics01.pryv.test is 127.0.0.1 via co1.pryv.test")


def test_dns_ipv6_refuses_an_ipv4_server(sandbox):
    result = dns(sandbox, "--ipv6")
    assert result.returncode == 3, result.stdout
    assert result.stdout == "PRYV_DNS UNKNOWN - --server 127.0.0.1 is not an IPv6 address, as -6 asks (see --help)\n"


def test_dns_silent_server_says_how_long_it_waited(sandbox):
    """The first line's wait and the time perfdata are the same measure."""
    sandbox.set_faults(dns="silent")
    result = dns(sandbox, timeout="2")
    assert result.returncode == 2, result.stdout
    match = re.match(r"PRYV_DNS CRITICAL - healthmetrics01\.pryv\.test: no answer from 127\.0\.0\.1 after "
                     r"(\d\.\d\d)s \| time=(\d\.\d+)s;;;0;2$", first_line(result))
    assert match, result.stdout
    assert abs(float(match.group(1)) - float(match.group(2))) <= 0.005
