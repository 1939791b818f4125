"""Icinga 2: icinga2/pryv-cores.conf's apply-for rules, proven with the real daemon against the sandbox's cores.

check_pryv_setup --all-hostings prepares one account per hosting of the sandbox; the dictionary it prints is pasted
as is into a Host object; a real icinga2 (API on loopback) then builds one pryv-core-HOSTING (and in DNS mode one
pryv-dns-HOSTING) service per entry and runs them: all OK, then, with one core taken down, only that core's service
CRITICAL. Without icinga2 these tests skip, unless CHECK_PRYV_REQUIRE_DAEMONS=1 (CI) makes them fail.
"""
import os
import secrets

import pytest

from conftest import dns_mode_args, dnsless_args, run_plugin
from daemons import free_ports
from test_icinga2 import (SHIPPED, Api, Icinga2, common_header, dns_args, dsl_vars, host_vars, icinga2_binary,
                          make_certs, plugin_dir, q, run_checks, wait_until)

MASTER = "master.check-pryv.test"
DNS_HOST, DNSLESS_HOST = "cores-dns-mode", "cores-dnsless"
PASSWORD = "Icinga-Cores-Pass-3"
HOSTINGS = ("hosting1", "hosting2")


def pasted_dictionary(result):
    """The `vars.pryv_cores[...] = {...}` lines that check_pryv_setup --all-hostings printed, as printed."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("vars.pryv_cores[")]
    assert lines, result.stderr
    return lines


def hosts(sb, dns_paste, dnsless_token_file):
    dns_vars = {**host_vars("dns", dns_args(sb)), **host_vars("register", dns_mode_args(sb)),
                **host_vars("core", dns_mode_args(sb)), "pryv_dns_server": ["127.0.0.1"], "pryv_core_token": sb.token}
    dnsless_vars = {**host_vars("register", dnsless_args(sb)), **host_vars("core", dnsless_args(sb)),
                    "pryv_core_token_file": sb.token_file}
    return "\n".join([
        'object Host %s {\n\tcheck_command = "dummy"\n\taddress = "127.0.0.1"\n%s\n\t%s\n}' % (
            q(DNS_HOST), dsl_vars(dns_vars), "\n\t".join(dns_paste)),
        # an entry written by hand, with the write path on
        'object Host %s {\n\tcheck_command = "dummy"\n\taddress = "127.0.0.1"\n%s\n'
        '\tvars.pryv_cores["default"] = { username = "healthmetrics01-default", token_file = %s, write = true,'
        ' address = "127.0.0.1" }\n'
        '\tvars.pryv_cores["health"] = { username = %s, token_file = %s }\n}'
        % (q(DNSLESS_HOST), dsl_vars(dnsless_vars), q(dnsless_token_file), q(sb.username), q(sb.token_file)),
    ])


@pytest.fixture(scope="module")
def cores_icinga(sandbox_session, tmp_path_factory):
    """The sandbox's accounts, one per hosting, made by check_pryv_setup; a master icinga2 that checks them."""
    binary = icinga2_binary()
    sb = sandbox_session
    sb.reset()
    sb.set_faults(hostings="all-available")
    tokens = tmp_path_factory.mktemp("core-tokens")
    made = run_plugin("check_pryv_setup", *dns_mode_args(sb), "--all-hostings", "--token-file",
                      str(tokens / "pryv.token"), env={"PRYV_PASSWORD": PASSWORD})
    assert made.returncode == 0, made.stderr
    made_dnsless = run_plugin("check_pryv_setup", *dnsless_args(sb), "--all-hostings", "--email", "ops@example.com",
                              "--token-file", str(tokens / "dnsless.token"), env={"PRYV_PASSWORD": PASSWORD})
    assert made_dnsless.returncode == 0, made_dnsless.stderr
    work = tmp_path_factory.mktemp("icinga2-cores")
    certs = make_certs(work / "certs", [MASTER]).parent
    port, = free_ports(1)
    user, password = "check_pryv", secrets.token_urlsafe(16)
    conf = common_header(MASTER, "master", port) + "\n".join([
        'object CheckerComponent "checker" { }',
        'object ApiUser %s { password = %s; permissions = [ "*" ] }' % (q(user), q(password)),
        'object Endpoint NodeName { }',
        'object Zone ZoneName { endpoints = [ NodeName ] }',
        *['include %s' % q(SHIPPED / name) for name in ("pryv-commands.conf", "pryv-services.conf",
                                                        "pryv-cores.conf")],
        hosts(sb, pasted_dictionary(made), tokens / "dnsless-default.token"),
        '',
    ])
    master = Icinga2(binary, work / "master", MASTER, conf, certs)
    try:
        master.start()
        api = Api(port, user, password, certs / "ca.crt")
        api.daemons = [master]
        wait_until("master API", lambda: api.get("/status/IcingaApplication"), api.daemons)
        api.tokens = tokens
        yield api
    finally:
        master.stop()
        sb.reset()


def names(host, services):
    return ["%s!%s" % (host, service) for service in services]


PER_CORE = names(DNS_HOST, ["pryv-core-%s" % h for h in HOSTINGS] + ["pryv-dns-%s" % h for h in HOSTINGS]) \
    + names(DNSLESS_HOST, ["pryv-core-default", "pryv-core-health"])
HEALTH = names(DNS_HOST, ["pryv-dns", "pryv-register", "pryv-core"]) + names(DNSLESS_HOST, ["pryv-register",
                                                                                            "pryv-core"])


def test_apply_for_builds_one_service_per_core(cores_icinga):
    found = {name for name in cores_icinga.services() if name.startswith(("cores-dns-mode!", "cores-dnsless!"))}
    assert found == set(PER_CORE + HEALTH)


def test_each_core_service_checks_its_own_account_then_only_the_broken_core_turns_critical(cores_icinga,
                                                                                            sandbox_session):
    sb = sandbox_session
    sb.set_faults(**{"core-down": "none"})
    results = run_checks(cores_icinga, PER_CORE + HEALTH)
    for name, result in results.items():
        assert result["exit_status"] == 0, (name, result["output"])
        assert sb.token not in str(result)
    for hosting in HOSTINGS:
        argv = results["%s!pryv-core-%s" % (DNS_HOST, hosting)]["command"]
        assert argv[0] == os.path.join(plugin_dir(), "check_pryv_core")
        assert argv[argv.index("--username") + 1] == "healthmetrics01-" + hosting
        assert argv[argv.index("--token-file") + 1] == str(cores_icinga.tokens / ("pryv-%s.token" % hosting))
        assert "--write" not in argv
        dns_result = results["%s!pryv-dns-%s" % (DNS_HOST, hosting)]
        assert dns_result["output"].startswith("PRYV_DNS OK - healthmetrics01-%s.pryv.test is 127.0.0.1 via "
                                               "co%s.pryv.test" % (hosting, hosting[-1])), dns_result["output"]
    written = results["%s!pryv-core-default" % DNSLESS_HOST]
    assert "--write" in written["command"]
    assert written["command"][written["command"].index("--address") + 1] == "127.0.0.1"
    named = results["%s!pryv-core-health" % DNSLESS_HOST]["command"]  # any name: the key is the service's
    assert named[named.index("--username") + 1] == sb.username and "--write" not in named
    assert "; first run: stream check-pryv and its event created, read back" in written["output"]

    sb.set_faults(**{"core-down": "hosting2"})
    results = run_checks(cores_icinga, PER_CORE + HEALTH)
    broken = "%s!pryv-core-hosting2" % DNS_HOST
    assert results[broken]["exit_status"] == 2, results[broken]
    assert results[broken]["output"].startswith("PRYV_CORE CRITICAL - core answered 502 HTML page '502 Bad Gateway'")
    assert {name: r["exit_status"] for name, r in results.items() if name != broken} == \
        {name: 0 for name in PER_CORE + HEALTH if name != broken}
