"""--print-config: the running sandbox as Icinga 2 hosts or Nagios objects, every variable set, to paste."""

from __future__ import annotations

import json
import os
import shlex

DNS_HOST, DNSLESS_HOST = "pryv-sandbox-dns-mode", "pryv-sandbox-dnsless"


def _icinga_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[ %s ]" % ", ".join(_icinga_value(v) for v in value)
    return json.dumps(value)  # an Icinga 2 string literal takes JSON's escapes


def _icinga_host(name, variables):
    lines = ['object Host %s {' % json.dumps(name), '\timport "generic-host"', '\taddress = "127.0.0.1"', '']
    lines += ["\tvars.%s = %s" % (key, _icinga_value(value)) for key, value in variables]
    return "\n".join(lines + ["}"])


def icinga2(sandbox):
    """Two Host objects, DNS mode and DNS-less, for pryv-commands.conf and pryv-services.conf."""
    platform = [("pryv_username", sandbox.username), ("pryv_port", sandbox.http_port)]
    platform.append(("pryv_ca_cert", os.path.abspath(sandbox.ca_file)) if sandbox.ca_file else ("pryv_scheme", "http"))
    platform.append(("pryv_core_token_file", os.path.abspath(sandbox.token_file)))
    more = [("pryv_service_info", True)] + ([("pryv_certificate_days", "30,14")] if sandbox.ca_file else [])

    def hostings(dns_mode):  # the hostings open to new accounts, as this sandbox's register lists them
        return [("pryv_hostings", [name for name, available in sandbox._hosting_availability(dns_mode).items()
                                   if available])]

    dns_mode = [("pryv_domain", sandbox.domain), ("pryv_address", "$address$"), *platform,
                ("pryv_dns_server", ["127.0.0.1"]), ("pryv_dns_port", sandbox.dns_port), *hostings(True), *more]
    dnsless = [("pryv_hostname", sandbox.hostname), *platform, *hostings(False), *more]
    return "\n".join([
        "/*",
        " * The check_pryv sandbox as Icinga 2 hosts: paste next to pryv-commands.conf and pryv-services.conf.",
        " * Valid while this sandbox runs (fix its ports with --http-port and --dns-port); the icinga user",
        " * must be able to read the CA and token files (choose --state-dir).",
        " */",
        _icinga_host(DNS_HOST, dns_mode),
        "",
        _icinga_host(DNSLESS_HOST, dnsless),
    ])


NAGIOS_COMMANDS = {"dns": "check_pryv_dns", "register, DNS mode": "check_pryv_register",
                   "core, DNS mode": "check_pryv_core", "register, DNS-less": "check_pryv_register_dnsless",
                   "core, DNS-less": "check_pryv_core_dnsless"}
NAGIOS_SERVICES = {"dns": "Pryv DNS", "register": "Pryv register", "core": "Pryv core"}


def _nagios_define(kind, fields):
    width = max(len(key) for key, _ in fields) + 4
    return "\n".join(["define %s {" % kind] + ["    %s%s" % (key.ljust(width), value) for key, value in fields]
                     + ["}"])


def nagios(sandbox):
    """Two hosts, their services through the commands of pryv-commands.cfg, and the dependencies between them."""
    blocks = ["# The check_pryv sandbox as Nagios objects: paste next to pryv-commands.cfg. Valid while this\n"
              "# sandbox runs (fix its ports with --http-port and --dns-port); the nagios user must be able to\n"
              "# read the CA and token files (choose --state-dir). The --token-file here replaces $USER11$."]
    files = {sandbox.ca_file, sandbox.token_file} - {None}
    for host, mode in ((DNS_HOST, "DNS mode"), (DNSLESS_HOST, "DNS-less")):
        blocks.append(_nagios_define("host", [
            ("use", "generic-host"), ("host_name", host), ("alias", "Pryv.io sandbox (%s)" % mode),
            ("address", "127.0.0.1"), ("check_command", "check-host-alive"), ("max_check_attempts", "3"),
            ("check_period", "24x7"), ("contact_groups", "admins")]))
        for label, argv in sandbox.command_lines():
            if not label.endswith(mode) and not (label == "dns" and mode == "DNS mode"):
                continue
            # argv: the program, --domain or --hostname, the platform ($ARG1$), then the options ($ARG2$)
            platform, options = argv[2], [os.path.abspath(a) if a in files else a for a in argv[3:]]
            blocks.append(_nagios_define("service", [
                ("use", "generic-service"), ("host_name", host),
                ("service_description", NAGIOS_SERVICES[label.split(",")[0]]),
                ("check_command", "!".join([NAGIOS_COMMANDS[label], platform, shlex.join(options)])),
                ("max_check_attempts", "3")]))
        parents = [("Pryv DNS", "Pryv register,Pryv core")] if mode == "DNS mode" else []
        for parent, children in parents + [("Pryv register", "Pryv core")]:
            blocks.append(_nagios_define("servicedependency", [
                ("host_name", host), ("service_description", parent), ("dependent_host_name", host),
                ("dependent_service_description", children), ("notification_failure_criteria", "w,u,c"),
                ("execution_failure_criteria", "n")]))
    return "\n\n".join(blocks)


PRINTERS = {"icinga2": icinga2, "nagios": nagios}
