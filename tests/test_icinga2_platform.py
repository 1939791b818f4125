"""Icinga 2: the optional pryv-platform service (check_pryv_platform, every check at once), run by the real daemon
against the sandbox: a host with vars.pryv_platform = true gets it, with the host's platform-wide variables and its
pryv_core_token (in the environment) or pryv_core_token_file; all OK, then CRITICAL naming the core once the token
is rejected. Without icinga2 these tests skip, unless CHECK_PRYV_REQUIRE_DAEMONS=1 (CI) makes them fail.
"""
import os
import secrets

import pytest

from conftest import dns_mode_args, dnsless_args
from daemons import free_ports
from test_icinga2 import (SHIPPED, Api, Icinga2, common_header, dsl_vars, host_vars, icinga2_binary, make_certs,
                          plugin_dir, q, run_checks, wait_until)

MASTER = "master.check-pryv.test"
DNS_HOST, DNSLESS_HOST = "platform-dns-mode", "platform-dnsless"
SERVICES = ["%s!pryv-platform" % DNS_HOST, "%s!pryv-platform" % DNSLESS_HOST]


def hosts(sb):
    dns_vars = {**host_vars(None, dns_mode_args(sb)), "pryv_username": sb.username, "pryv_core_token": sb.token,
                "pryv_platform": True, "pryv_platform_dns_server": ["127.0.0.1"],
                "pryv_platform_dns_port": str(sb.dns_port), "pryv_timeout": "20"}
    dnsless_vars = {**host_vars(None, dnsless_args(sb)), "pryv_username": sb.username,
                    "pryv_core_token_file": sb.token_file, "pryv_platform": True,
                    # both hosts are the sandbox's one account, checked at once: a stream each for their writes, and
                    # notifications from one of them (a user's namespace has one form per API worker)
                    "pryv_platform_write_stream": "check-pryv-dnsless",
                    "pryv_platform_checks": "register,hostings,service-info,auth-request,core,write,series,attachment"}
    return "\n".join('object Host %s {\n\tcheck_command = "dummy"\n\taddress = "127.0.0.1"\n%s\n}' % (
        q(name), dsl_vars(variables)) for name, variables in ((DNS_HOST, dns_vars), (DNSLESS_HOST, dnsless_vars)))


@pytest.fixture(scope="module")
def platform_icinga(sandbox_session, tmp_path_factory):
    binary = icinga2_binary()
    work = tmp_path_factory.mktemp("icinga2-platform")
    certs = make_certs(work / "certs", [MASTER]).parent
    port, = free_ports(1)
    user, password = "check_pryv", secrets.token_urlsafe(16)
    conf = common_header(MASTER, "master", port) + "\n".join([
        'object CheckerComponent "checker" { }',
        'object ApiUser %s { password = %s; permissions = [ "*" ] }' % (q(user), q(password)),
        'object Endpoint NodeName { }',
        'object Zone ZoneName { endpoints = [ NodeName ] }',
        *['include %s' % q(SHIPPED / name) for name in ("pryv-commands.conf", "pryv-services.conf")],
        hosts(sandbox_session),
        '',
    ])
    master = Icinga2(binary, work / "master", MASTER, conf, certs)
    try:
        master.start()
        api = Api(port, user, password, certs / "ca.crt")
        api.daemons = [master]
        wait_until("master API", lambda: api.get("/status/IcingaApplication"), api.daemons)
        yield api
    finally:
        master.stop()


def test_pryv_platform_service_runs_every_check_then_names_the_rejected_token(platform_icinga, sandbox):
    sandbox.set_faults(hostings="all-available")
    results = run_checks(platform_icinga, SERVICES)
    dns_mode, dnsless = results[SERVICES[0]], results[SERVICES[1]]
    assert dns_mode["exit_status"] == 0, dns_mode["output"]
    assert dns_mode["output"].startswith("PRYV_PLATFORM OK - 11 checks OK: dns, register, hostings, service-info, "
                                         "auth-request, core, write, series, attachment, notifications, certificate"
                                         ), dns_mode["output"]
    assert dnsless["exit_status"] == 0, dnsless["output"]
    assert dnsless["output"].startswith("PRYV_PLATFORM OK - 8 checks OK: register, "), dnsless["output"]
    assert "\nnotifications  OK " in dns_mode["output"], dns_mode["output"]  # the long output: the table
    argv = dns_mode["command"]
    assert argv[0] == os.path.join(plugin_dir(), "check_pryv_platform")
    assert argv[argv.index("--timeout") + 1] == "20" and argv[argv.index("--dns-port") + 1] == str(sandbox.dns_port)
    assert "--token-file" not in argv  # the token: in the environment
    assert dnsless["command"][dnsless["command"].index("--token-file") + 1] == sandbox.token_file
    assert any(p.startswith("core_time=") for p in dns_mode["performance_data"])

    sandbox.set_faults(token="rejected")
    results = run_checks(platform_icinga, SERVICES)
    for name in SERVICES:
        assert results[name]["exit_status"] == 2, results[name]["output"]
        assert results[name]["output"].startswith("PRYV_PLATFORM CRITICAL - core: access token rejected (403 "
                                                  "invalid-access-token)"), results[name]["output"]
        assert sandbox.token not in str(results[name])
