"""--print-config: the running sandbox as Icinga 2 hosts or Nagios objects, every variable set, to paste."""

from __future__ import annotations

import argparse
import os

from check_pryv.configtext import (NOTIFICATION, PARTS, Macro, icinga_host, nagios_check_command, nagios_define,
                                   nagios_words)

DNS_HOST, DNSLESS_HOST = "pryv-sandbox-dns-mode", "pryv-sandbox-dnsless"


def icinga2(sandbox):
    """Two Host objects, DNS mode and DNS-less, for pryv-commands.conf and pryv-services.conf."""
    platform = [("pryv_username", sandbox.username), ("pryv_port", sandbox.http_port)]
    platform.append(("pryv_ca_cert", os.path.abspath(sandbox.ca_file)) if sandbox.ca_file else ("pryv_scheme", "http"))
    platform.append(("pryv_core_token_file", os.path.abspath(sandbox.token_file)))
    more = [("pryv_service_info", True)] + ([("pryv_certificate_days", "30,14")] if sandbox.ca_file else [])
    more += [(variable, True) for variable, plugin, *_ in PARTS if plugin == "register"]
    more.append(NOTIFICATION)

    def hostings(dns_mode):  # the hostings open to new accounts, as this sandbox's register lists them
        return [("pryv_hostings", [name for name, available in sandbox._hosting_availability(dns_mode).items()
                                   if available])]

    dns_mode = [("pryv_domain", sandbox.domain), ("pryv_address", Macro("$address$")), *platform,
                ("pryv_dns_server", ["127.0.0.1"]), ("pryv_dns_port", sandbox.dns_port), *hostings(True), *more]
    dnsless = [("pryv_hostname", sandbox.hostname), *platform, *hostings(False), *more,
               *[(variable, True) for variable, plugin, *_ in PARTS if plugin == "core"]]
    return "\n".join([
        "/*",
        " * The check_pryv sandbox as Icinga 2 hosts: paste next to pryv-commands.conf and pryv-services.conf.",
        " * Valid while this sandbox runs (fix its ports with --http-port and --dns-port); the icinga user",
        " * must be able to read the CA and token files (choose --state-dir). The core's parts on the DNS-less",
        " * host only: two checks of one health account's parts at once would meet on its one check event.",
        " */",
        icinga_host(DNS_HOST, dns_mode),
        "",
        icinga_host(DNSLESS_HOST, dnsless),
    ])


NAGIOS_COMMANDS = {"dns": "check_pryv_dns", "register, DNS mode": "check_pryv_register",
                   "core, DNS mode": "check_pryv_core", "register, DNS-less": "check_pryv_register_dnsless",
                   "core, DNS-less": "check_pryv_core_dnsless"}
NAGIOS_SERVICES = {"dns": "Pryv DNS", "register": "Pryv register", "core": "Pryv core"}


def nagios(sandbox):
    """Two hosts, their services through the commands of pryv-commands.cfg, and the dependencies between them."""
    blocks = ["# The check_pryv sandbox as Nagios objects: paste next to pryv-commands.cfg. Valid while this\n"
              "# sandbox runs (fix its ports with --http-port and --dns-port); the nagios user must be able to\n"
              "# read the CA and token files (choose --state-dir). The core services read the --token-file given\n"
              "# here: their commands name $USER11$ first, so resource.cfg must still set it (to any path: the\n"
              "# later --token-file wins), as pryv-commands.cfg asks. The core's parts on the DNS-less host only:\n"
              "# two checks of one health account's parts at once would meet on its one check event."]
    files = {sandbox.ca_file, sandbox.token_file} - {None}
    for host, mode in ((DNS_HOST, "DNS mode"), (DNSLESS_HOST, "DNS-less")):
        blocks.append(nagios_define("host", [
            ("use", "generic-host"), ("host_name", host), ("alias", "Pryv.io sandbox (%s)" % mode),
            ("address", "127.0.0.1"), ("check_command", "check-host-alive"), ("max_check_attempts", "3"),
            ("check_period", "24x7"), ("contact_groups", "admins")]))
        for label, argv in sandbox.command_lines():
            if not label.endswith(mode) and not (label == "dns" and mode == "DNS mode"):
                continue
            # argv: the program, --domain or --hostname, the platform ($ARG1$), then the options ($ARG2$)
            platform, options = argv[2], [os.path.abspath(a) if a in files else a for a in argv[3:]]
            kind = label.split(",")[0]
            services = [(NAGIOS_SERVICES[kind], options)] + [(name, options + [option]) for _, plugin, option, name
                                                              in parts(mode) if plugin == kind]
            for name, words in services:
                blocks.append(nagios_define("service", [
                    ("use", "generic-service"), ("host_name", host), ("service_description", name),
                    ("check_command", nagios_check_command(NAGIOS_COMMANDS[label], platform, nagios_words(words))),
                    ("max_check_attempts", "3")]))
        needs = {kind: ",".join(name for _, plugin, _, name in parts(mode) if plugin == kind)
                 for kind in NAGIOS_SERVICES}
        parents = [("Pryv DNS", "Pryv register,Pryv core")] if mode == "DNS mode" else []
        parents += [("Pryv register", "Pryv core," + needs["register"]), ("Pryv core", needs["core"])]
        for parent, children in (pair for pair in parents if pair[1]):
            blocks.append(nagios_define("servicedependency", [
                ("host_name", host), ("service_description", parent), ("dependent_host_name", host),
                ("dependent_service_description", children), ("notification_failure_criteria", "w,u,c"),
                ("execution_failure_criteria", "n")]))
    return "\n\n".join(blocks)


def parts(mode):
    """The parts a host's services check, as on the Icinga 2 hosts: the core's on the DNS-less host only (the
    series' one point, the one attachment, the namespace form: one check of the account's parts at a time)."""
    return [part for part in PARTS if mode == "DNS-less" or part[1] == "register"]


PRINTERS = {"icinga2": icinga2, "nagios": nagios}


def printing(text):
    """--print-config's value: [(format, file or None for stdout)]; `icinga2`, or `icinga2=FILE,nagios=FILE`."""
    wanted = []
    for item in text.split(","):
        kind, sep, path = item.partition("=")
        if kind not in PRINTERS or (sep and not path):
            raise argparse.ArgumentTypeError("icinga2 or nagios, each optionally =FILE, separated by commas; "
                                             "not %r" % item)
        if kind in dict(wanted):
            raise argparse.ArgumentTypeError("%s given twice" % kind)
        wanted.append((kind, path or None))
    if sum(path is None for _, path in wanted) > 1:
        raise argparse.ArgumentTypeError("one format at most goes to stdout: give the others =FILE")
    return wanted
