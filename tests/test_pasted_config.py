"""Hardening, round 3: what the platform's text can do to the lines an admin pastes, and to the admin's terminal.

A register on loopback (the sandbox, its hostings renamed as a hostile one names them) meets check_pryv_setup; every
block it prints, and every block the sandbox's --print-config prints, goes to the real `icinga2 daemon -C` and
`nagios4 -v`, as an admin would paste it. Without the daemons these tests skip, unless CHECK_PRYV_REQUIRE_DAEMONS=1
(CI) makes them fail.
"""
import re
import shlex
import subprocess
import time

import pytest

from conftest import dns_mode_args, dnsless_args, plugin_path, run_plugin
from faultservers import HTTPFault, answer, json_answer
from test_icinga2 import SHIPPED, by_type, icinga2_binary, q, validate
from test_nagios import COMMANDS_CFG, RESOURCE_EXAMPLE, STOCK_OBJECTS, main_config, nagios_binary

PASSWORD = "Hostile-Register-Pass-7"
# Names a register may give its hostings: each must come out as a service Icinga 2 takes, never as a line of its own.
HOSTILE = [
    "zürich",                                  # non-ASCII: UTF-8, never \u
    "pilot!1",                                 # '!' is refused in an object name: keyed by its account's name
    "healthmetrics02-pilot-1-41cc0e",          # ... which this one is named after: both kept, neither hidden
    'x"] = {}\n\tvars.pryv_cores["forged',     # a line break and quotes: no forged line
    "cost$1",                                  # '$' would be a macro in the service's variables
]
TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what a terminal acts on (ESC, BEL, CSI...)


def with_hostings(sandbox, monkeypatch, names):
    """The sandbox's register lists these hostings, every one open to new accounts."""
    monkeypatch.setattr(sandbox, "_hosting_availability", lambda dns_mode: {name: True for name in names})


def all_hostings(sandbox, tmp_path, *extra):
    """DNS-less, where the register takes no hosting name (the sandbox's refuses these in DNS mode, as Pryv's does)."""
    return run_plugin("check_pryv_setup", *dnsless_args(sandbox), "--username", "healthmetrics02", "--all-hostings",
                      "--email", "ops@example.com", "--token-file", str(tmp_path / "pryv.token"), *extra,
                      env={"PRYV_PASSWORD": PASSWORD})


def pasted_lines(result):
    """The lines after `Lines to paste:`, as an admin copies them."""
    lines = result.stderr.splitlines()
    return [line[2:] for line in lines[lines.index("Lines to paste:") + 1:]]


def on_a_host(lines):
    """`lines` (variables) pasted into a Host object."""
    return "\n".join(['object Host "pryv" {', '\timport "generic-host"', *lines, "}"])


def icinga2_objects(work, config):
    """What `icinga2 daemon -C` makes of `config`, beside the shipped files."""
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "icinga2.conf"
    conf.write_text("\n".join([
        'const PluginDir = "/usr/lib/nagios/plugins"', 'const NodeName = "master.check-pryv.test"',
        'const ZoneName = "master"', "include <itl>", "include <plugins>", "object Endpoint NodeName { }",
        "object Zone ZoneName { endpoints = [ NodeName ] }",
        'template Host "generic-host" { check_command = "dummy" }',
        *["include %s" % q(SHIPPED / name) for name in ("pryv-commands.conf", "pryv-services.conf",
                                                        "pryv-cores.conf")],
        config, ""]), encoding="utf-8")
    return validate(icinga2_binary(), work, conf)


def nagios_accepts(work, objects, resource_lines=()):
    """nagios4 -v on the shipped commands, `objects` and a resource.cfg ending with `resource_lines`."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "stock.cfg").write_text(STOCK_OBJECTS)
    (work / "pasted.cfg").write_text(objects, encoding="utf-8")
    resource = work / "resource.cfg"
    resource.write_text(RESOURCE_EXAMPLE.read_text() + "\n".join(resource_lines) + "\n", encoding="utf-8")
    conf = main_config(work, [work / "stock.cfg", COMMANDS_CFG, work / "pasted.cfg"], resource)
    proc = subprocess.run([nagios_binary(), "-v", str(conf)], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0 and re.search(r"Total Errors:\s+0\b", report), report
    return report


def nagios_service(check_command_line):
    """A host and its Pryv core service, whose check_command is the pasted line."""
    return "\n".join([
        "define host {", "  use generic-host", "  host_name pryv", "  address 127.0.0.1",
        "  check_command check-host-alive", "  max_check_attempts 3", "  check_period 24x7", "  contact_groups admins",
        "}", "define service {", "  use generic-service", "  host_name pryv", "  service_description Pryv core",
        "  " + check_command_line, "}", ""])


# --- 2: the lines to paste are generated for the language that reads them --------------------------------------

def test_all_hostings_with_hostile_hosting_names_prints_a_dictionary_icinga2_takes(sandbox, monkeypatch, tmp_path):
    with_hostings(sandbox, monkeypatch, HOSTILE)
    result = all_hostings(sandbox, tmp_path)
    assert result.returncode == 0, result.stderr
    dictionary = [line for line in pasted_lines(result) if line.startswith("vars.pryv_cores[")]
    assert len(dictionary) == len(HOSTILE), result.stderr  # one line each: none forged
    assert "\\u" not in result.stderr
    services = {props["name"]: props for props in by_type(icinga2_objects(
        tmp_path / "icinga2", on_a_host(['\tvars.pryv_hostname = "localhost"', *dictionary])),
                                                          "Service").values() if props["name"].startswith("pryv-core-")}
    derived = {props["vars"]["pryv_hosting"]: name for name, props in services.items()}
    # every hosting, by its name (`$$` in the configuration: a macro string, that reads `$` when the check runs)
    assert set(derived) == {" ".join(name.split()).replace("$", "$$") for name in HOSTILE}
    assert derived["zürich"] == "pryv-core-zürich"
    for hosting in ("pilot!1", "cost$1"):
        username = services[derived[hosting.replace("$", "$$")]]["vars"]["pryv_username"]
        assert derived[hosting.replace("$", "$$")] == "pryv-core-" + username, derived
        assert "# hosting %s: its services are pryv-core-%s and pryv-dns-%s, as " % (hosting, username, username) \
            in result.stderr
    assert services[derived["pilot!1"]]["display_name"] == "Pryv core pilot!1"
    assert derived["pilot!1"] == "pryv-core-healthmetrics02-pilot-1-41cc0e"
    assert derived["healthmetrics02-pilot-1-41cc0e"] == "pryv-core-healthmetrics02-healthmetrics02-pilot-1-41cc0e"
    assert "as its name is the key of another hosting's services" in result.stderr
    assert "an Icinga 2 object name may not contain '!'" in result.stderr
    assert len(services) == len(HOSTILE)  # and none of a forged entry


@pytest.mark.parametrize("folder", ['zü "q" \\', "tab\there"])
def test_setup_token_file_path_with_quotes_and_non_ascii_gives_lines_icinga2_and_nagios_take(sandbox, tmp_path,
                                                                                                folder):
    (tmp_path / folder).mkdir()
    token_file = tmp_path / folder / "token"
    result = run_plugin("check_pryv_setup", *dns_mode_args(sandbox), "--username", "healthmetrics02", "--token-file",
                        str(token_file), env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    lines = pasted_lines(result)
    host = [line for line in lines if line.startswith("vars.")]
    objects = by_type(icinga2_objects(tmp_path / "icinga2", on_a_host(host)), "Host")
    assert objects["pryv"]["vars"]["pryv_core_token_file"] == str(token_file)
    if "\t" in folder:  # a control character: no Nagios lines, and why
        assert "# Nagios: no lines, as " in result.stderr and "holds a line break or another control character" \
            in result.stderr
        return
    command = lines[lines.index("# Nagios, the service's command") + 1]
    resource = next(line for line in lines if line.startswith("$USER11$="))
    assert "Checked 1 services." in nagios_accepts(tmp_path / "nagios", nagios_service(command), [resource])


def test_setup_lines_for_a_token_on_stdout_are_taken_by_icinga2_and_nagios(sandbox, tmp_path):
    result = run_plugin("check_pryv_setup", *dns_mode_args(sandbox), "--username", "healthmetrics02",
                        env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    lines = pasted_lines(result)
    host = [line for line in lines if line.startswith("vars.")]
    hosts = by_type(icinga2_objects(tmp_path / "icinga2", on_a_host(host)), "Host")
    assert hosts["pryv"]["vars"]["pryv_core_token"] == "<the token printed on stdout>"
    command = lines[lines.index("# Nagios, the service's command") + 1]
    assert lines[lines.index("# Nagios, the service's command") - 1] == "$USER11$=/etc/nagios4/pryv-token"
    assert "Checked 1 services." in nagios_accepts(tmp_path / "nagios", nagios_service(command))


def test_setup_parts_lines_uncommented_give_their_services_in_icinga2_and_nagios(sandbox, tmp_path):
    """The platform's parts, printed commented out (the operator chooses): uncommented, icinga2 makes their four
    services and nagios4 takes their four commands."""
    token_file = tmp_path / "token"
    result = run_plugin("check_pryv_setup", *dns_mode_args(sandbox), "--username", "healthmetrics02", "--token-file",
                        str(token_file), env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    lines = pasted_lines(result)
    parts = [line[2:] for line in lines if line.startswith("# vars.")]
    assert parts == ["vars.pryv_auth_request = true", "vars.pryv_series = true", "vars.pryv_attachment = true",
                     "vars.pryv_notifications = true"]
    host = [line for line in lines if line.startswith("vars.")] + parts
    services = {props["name"]: props for props in by_type(icinga2_objects(tmp_path / "icinga2", on_a_host(host)),
                                                           "Service").values()}
    assert {"pryv-auth-request", "pryv-series", "pryv-attachment", "pryv-notifications"} <= set(services), services
    commands = [line[2:] for line in lines if line.startswith("# check_command ")]
    assert [command.rsplit(" ", 1)[1] for command in commands] == [
        "--auth-request", "--series", "--attachment", "--notifications"]
    assert commands[0].startswith("check_command check_pryv_register!pryv.test!--username healthmetrics02 ")
    objects = nagios_service(commands[1]) + "".join(
        "define service {\n  use generic-service\n  host_name pryv\n  service_description part %d\n  %s\n}\n"
        % (number, command) for number, command in enumerate(commands))
    resource = next(line for line in lines if line.startswith("$USER11$="))
    assert "Checked 5 services." in nagios_accepts(tmp_path / "nagios", objects, [resource])


@pytest.mark.parametrize("char, meaning", [(";", "starts a comment"), ("$", "starts a macro"),
                                           ("!", "separates the arguments of check_command")])
def test_setup_paths_nagios_reads_otherwise_leave_the_nagios_lines_out_saying_why(sandbox, tmp_path, char, meaning):
    ca = tmp_path / ("ca%scert.pem" % char)
    ca.write_bytes(open(sandbox.ca_file, "rb").read())
    args = [a if a != sandbox.ca_file else str(ca) for a in dns_mode_args(sandbox)]
    result = run_plugin("check_pryv_setup", *args, "--username", "healthmetrics02", "--token-file",
                        str(tmp_path / "token"), env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    lines = pasted_lines(result)
    assert not any(line.startswith(("$USER11$", "check_command")) for line in lines)
    assert "# Nagios: no lines, as --username healthmetrics02 --address 127.0.0.1 --port %d --ca-cert %s holds " \
           "'%s', which %s in Nagios: give paths without it" % (sandbox.http_port, shlex.quote(str(ca)), char,
                                                                 meaning) in lines
    host = [line for line in lines if line.startswith("vars.")]
    icinga2_objects(tmp_path / "icinga2", on_a_host(host))  # the Icinga 2 lines still hold


def printed_sandbox(tmp_path, state_dir, value):
    """check_pryv_sandbox --print-config VALUE, until it says it runs (or exits); (process, stderr so far)."""
    proc = subprocess.Popen([plugin_path("check_pryv_sandbox"), "--print-config", value, "--state-dir",
                             str(state_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors = ""
    end = time.monotonic() + 30
    while time.monotonic() < end:
        line = proc.stderr.readline()
        errors += line
        if not line or "Sandbox running" in line:
            break
    return proc, errors


def test_sandbox_prints_both_formats_to_files_that_icinga2_and_nagios_take(tmp_path):
    state = tmp_path / "état zü"  # non-ASCII, with a space: \u for Icinga 2 was refused
    state.mkdir()
    icinga, nagios = tmp_path / "pryv-sandbox.conf", tmp_path / "pryv-sandbox.cfg"
    proc, errors = printed_sandbox(tmp_path, state, "icinga2=%s,nagios=%s" % (icinga, nagios))
    try:
        assert "Sandbox running" in errors, errors
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert errors.splitlines()[:2] == ["icinga2 configuration written to %s" % icinga,
                                       "nagios configuration written to %s" % nagios]
    text = icinga.read_text(encoding="utf-8")
    assert '\tvars.pryv_core_token_file = "%s/token"' % state in text
    assert '\tvars.notification["mail"] = { groups = [ "icingaadmins" ] }' in text
    hosts = by_type(icinga2_objects(tmp_path / "icinga2", text), "Host")
    assert hosts["pryv-sandbox-dns-mode"]["vars"]["notification"] == {"mail": {"groups": ["icingaadmins"]}}
    assert hosts["pryv-sandbox-dnsless"]["vars"]["pryv_ca_cert"] == "%s/ca.pem" % state
    report = nagios_accepts(tmp_path / "nagios", nagios.read_text(encoding="utf-8"))
    assert re.search(r"Checked 10 services\.", report), report
    assert "# here: their commands name $USER11$ first, so resource.cfg must still set it" in nagios.read_text()


@pytest.mark.parametrize("value, words", [
    ("yaml", "icinga2 or nagios, each optionally =FILE, separated by commas; not 'yaml'"),
    ("icinga2=", "icinga2 or nagios, each optionally =FILE, separated by commas; not 'icinga2='"),
    ("nagios=a,nagios=b", "nagios given twice"),
    ("icinga2,nagios", "one format at most goes to stdout: give the others =FILE"),
])
def test_sandbox_print_config_value_is_checked(value, words):
    result = run_plugin("check_pryv_sandbox", "--print-config", value)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "check_pryv_sandbox: error: argument --print-config: " + words


def test_sandbox_state_dir_nagios_cannot_read_is_refused_clearly(tmp_path):
    state = tmp_path / "cost$1"
    state.mkdir()
    proc, errors = printed_sandbox(tmp_path, state, "icinga2=%s,nagios=%s" % (tmp_path / "a", tmp_path / "b"))
    proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert errors.splitlines()[-1].startswith("check_pryv_sandbox: no nagios configuration: ")
    assert errors.splitlines()[-1].endswith("holds '$', which starts a macro in Nagios: choose another --state-dir")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing half-written


def test_icinga_string_reads_back_the_same_text_in_icinga2(tmp_path):
    """Every awkward character of a path through the quoter, then back from icinga2's own object dump."""
    from check_pryv import configtext

    text = 'a"b\\c\nd\te\x01f\x7fg\u0085h zü $x$'
    objects = icinga2_objects(tmp_path, on_a_host(["\t" + configtext.icinga_var("pryv_note", text)]))
    assert by_type(objects, "Host")["pryv"]["vars"]["pryv_note"] == text.replace("$x$", "$$x$$")


# --- 3: nothing the platform says acts on the terminal ----------------------------------------------------------

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[8m\x9b31m\r"


def test_all_hostings_hosting_names_with_terminal_sequences_reach_no_terminal(sandbox, monkeypatch, tmp_path):
    with_hostings(sandbox, monkeypatch, ["hosting" + ESCAPES + "1"])
    result = all_hostings(sandbox, tmp_path)
    assert result.returncode == 0, result.stderr
    assert not TERMINAL.search(result.stderr), repr(result.stderr)
    assert "hosting hosting?]0;owned??[2J?[8m?31m 1: account healthmetrics02-hosting-0-owned-2j-8m-31m-1-" \
           in result.stderr


def test_setup_error_message_with_terminal_sequences_reaches_no_terminal():
    refusal = json_answer(400, {"id": "INVALID_USER_NAME", "message": "bad" + ESCAPES, "detail": "see" + ESCAPES})

    def route(head):
        return refusal

    with HTTPFault(answer(route)) as server:
        result = run_plugin("check_pryv_setup", "--hostname", "127.0.0.1", "--port", str(server.port), "--scheme",
                            "http", env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 1
    assert not TERMINAL.search(result.stderr), repr(result.stderr)
    assert result.stderr.splitlines()[-1] == (
        "check_pryv_setup: error: username 'healthmetrics01' is refused: give another --username (400 "
        "INVALID_USER_NAME: bad?]0;owned??[2J?[8m?31m - see?]0;owned??[2J?[8m?31m)")


def test_setup_platform_value_shown_as_is_still_reaches_no_terminal():
    """An existing access whose `expires` is no date: shown as the platform gave it, through the output's filter."""
    def route(head):
        line = head.split(b"\r\n", 1)[0]
        if b"/check_username" in line:
            return json_answer(200, {"reserved": True})
        if b"/auth/login" in line:
            return json_answer(200, {"token": "session-token-0123456789"})
        if line.startswith(b"POST") and b"/accesses" in line:
            return json_answer(400, {"error": {"id": "item-already-exists", "message": "exists"}})
        return json_answer(200, {"accesses": [{"name": "metricsAccess", "type": "shared", "expires": ESCAPES,
                                               "token": "access-token-0123456789"}]})

    with HTTPFault(answer(route)) as server:
        result = run_plugin("check_pryv_setup", "--hostname", "127.0.0.1", "--port", str(server.port), "--scheme",
                            "http", env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 1
    assert not TERMINAL.search(result.stderr), repr(result.stderr)
    assert result.stderr.splitlines()[-1] == (
        'check_pryv_setup: error: core: the existing access "metricsAccess" expires (at ?]0;owned??[2J?[8m?31m?): '
        "delete it in the app, or give another --access-name")


def test_sandbox_banner_with_a_state_dir_holding_escapes_reaches_no_terminal(tmp_path):
    state = tmp_path / ("state" + ESCAPES)
    proc = subprocess.Popen([plugin_path("check_pryv_sandbox"), "--state-dir", str(state)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    banner = ""
    try:
        while "Stop with Ctrl-C" not in banner:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            banner += line
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert not TERMINAL.search(banner), repr(banner)
    assert "  CA file      %s/state?]0;owned??[2J?[8m?31m?/ca.pem" % tmp_path in banner


# --- 10: --all-hostings takes a stated number of hostings ------------------------------------------------------

def test_all_hostings_uses_at_most_max_hostings_and_says_so(sandbox, monkeypatch, tmp_path):
    with_hostings(sandbox, monkeypatch, ["h%03d" % n for n in range(5)])
    result = all_hostings(sandbox, tmp_path, "--max-hostings", "3")
    assert result.returncode == 0, result.stderr
    assert "register: /hostings lists 5 hostings: only the first 3 are used (--max-hostings)" in result.stderr
    assert [line.split('"')[1] for line in pasted_lines(result) if line.startswith("vars.pryv_cores[")] == \
        ["h000", "h001", "h002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pryv-h000.token", "pryv-h001.token", "pryv-h002.token"]


def test_all_hostings_default_bound_is_50(sandbox, monkeypatch, tmp_path):
    with_hostings(sandbox, monkeypatch, ["h%03d" % n for n in range(53)])
    result = all_hostings(sandbox, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "register: /hostings lists 53 hostings: only the first 50 are used (--max-hostings)" in result.stderr
    assert len(list(tmp_path.iterdir())) == 50
    help_text = run_plugin("check_pryv_setup", "--help").stdout
    assert "--max-hostings N" in help_text and "(default: 50)" in " ".join(help_text.split())


def test_max_hostings_without_all_hostings_is_a_usage_error():
    result = run_plugin("check_pryv_setup", "--domain", "pryv.test", "--max-hostings", "3",
                        env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "check_pryv_setup: error: --max-hostings applies to --all-hostings"


@pytest.mark.parametrize("value", ["0", "-1", "10001", "many"])
def test_max_hostings_out_of_range_is_a_usage_error(value):
    result = run_plugin("check_pryv_setup", "--domain", "pryv.test", "--all-hostings", "--max-hostings", value,
                        env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == ("check_pryv_setup: error: argument --max-hostings: invalid number "
                                              "%r: a whole number from 1 to 10000" % value)
