"""Nagios: the shipped command definitions, example services and resource.cfg macros, proven with nagios4.

* ``nagios4 -v`` accepts nagios/pryv-commands.cfg and nagios/pryv-services.cfg.example, with
  nagios/resource.cfg.example as resource file, next to a minimal set of the stock objects
  (templates, a time period, a contact).
* A real nagios4 runs the shipped commands against the sandbox (DNS mode and DNS-less), the plugin
  directory and the token file coming from resource.cfg macros; status.dat gives back each state,
  output and perfdata. Then the sandbox rejects the token and the core services turn CRITICAL.

Without nagios4 these tests skip, unless CHECK_PRYV_REQUIRE_DAEMONS=1 (CI) makes them fail.
"""
import grp
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import dns_mode_args, dnsless_args, plugin_path, require_binary
from daemons import Daemon

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "nagios"
COMMANDS_CFG = SHIPPED / "pryv-commands.cfg"
SERVICES_EXAMPLE = SHIPPED / "pryv-services.cfg.example"
RESOURCE_EXAMPLE = SHIPPED / "resource.cfg.example"
PLUGIN_DIR_MACRO, TOKEN_FILE_MACRO = "$USER10$", "$USER11$"
DEADLINE = 30  # seconds: upper bound of every wait on the daemon

# What the stock configuration (Debian's /etc/nagios4/objects/) provides and the examples rely on.
STOCK_OBJECTS = """
define timeperiod {
    timeperiod_name     24x7
    alias               24 Hours A Day, 7 Days A Week
    sunday              00:00-24:00
    monday              00:00-24:00
    tuesday             00:00-24:00
    wednesday           00:00-24:00
    thursday            00:00-24:00
    friday              00:00-24:00
    saturday            00:00-24:00
}
define command {
    command_name        notify-nobody
    command_line        /bin/true
}
define command {
    command_name        check-host-alive
    command_line        /bin/true
}
define contact {
    contact_name                    nagiosadmin
    alias                           Nagios Admin
    service_notification_period     24x7
    host_notification_period        24x7
    service_notification_options    n
    host_notification_options       n
    service_notification_commands   notify-nobody
    host_notification_commands      notify-nobody
}
define contactgroup {
    contactgroup_name   admins
    alias               Nagios Administrators
    members             nagiosadmin
}
define host {
    name                            generic-host
    notifications_enabled           1
    event_handler_enabled           1
    flap_detection_enabled          1
    process_perf_data               1
    retain_status_information       1
    retain_nonstatus_information    1
    notification_period             24x7
    register                        0
}
define service {
    name                            generic-service
    active_checks_enabled           1
    passive_checks_enabled          1
    parallelize_check               1
    obsess_over_service             1
    check_freshness                 0
    notifications_enabled           1
    event_handler_enabled           1
    flap_detection_enabled          1
    process_perf_data               1
    retain_status_information       1
    retain_nonstatus_information    1
    is_volatile                     0
    check_period                    24x7
    max_check_attempts              3
    check_interval                  10
    retry_interval                  2
    contact_groups                  admins
    notification_options            w,u,c,r
    notification_interval           60
    notification_period             24x7
    register                        0
}
"""


def nagios_binary():
    return require_binary(shutil.which("nagios4") or "/usr/sbin/nagios4")


def main_config(work, cfg_files, resource_file, extra=()):
    """A nagios.cfg whose every path is inside `work`."""
    (work / "checkresults").mkdir(parents=True, exist_ok=True)
    lines = ["cfg_file=%s" % f for f in cfg_files] + [
        "resource_file=%s" % resource_file,
        "log_file=%s" % (work / "nagios.log"),
        "object_cache_file=%s" % (work / "objects.cache"),
        "precached_object_file=%s" % (work / "objects.precache"),
        "status_file=%s" % (work / "status.dat"),
        "state_retention_file=%s" % (work / "retention.dat"),
        "lock_file=%s" % (work / "nagios.lock"),
        "temp_file=%s" % (work / "nagios.tmp"),
        "temp_path=%s" % work,
        "command_file=%s" % (work / "nagios.cmd"),
        "query_socket=%s" % (work / "nagios.qh"),
        "check_result_path=%s" % (work / "checkresults"),
        "debug_file=%s" % (work / "nagios.debug"),
        "nagios_user=%s" % pwd.getpwuid(os.getuid()).pw_name,
        "nagios_group=%s" % grp.getgrgid(os.getgid()).gr_name,
        "illegal_macro_output_chars=`~$&|'\"<>",
        "enable_notifications=0",
        *extra,
    ]
    conf = work / "nagios.cfg"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def command_lines():
    """{command_name: command_line} of the shipped definitions."""
    text = COMMANDS_CFG.read_text()
    blocks = re.findall(r"define\s+command\s*\{(.*?)\}", text, re.S)
    result = {}
    for block in blocks:
        fields = dict(re.match(r"\s*(\S+)\s+(.*\S)", line).groups()
                      for line in block.splitlines() if line.strip() and not line.strip().startswith(("#", ";")))
        result[fields["command_name"]] = fields["command_line"]
    return result


def test_commands_keep_the_token_off_the_command_line():
    lines = command_lines()
    assert set(lines) == {"check_pryv_dns", "check_pryv_register", "check_pryv_core", "check_pryv_platform",
                          "check_pryv_register_dnsless", "check_pryv_core_dnsless", "check_pryv_platform_dnsless"}
    for name, line in lines.items():
        script = re.sub(r"_dnsless$", "", name)
        assert line.startswith(PLUGIN_DIR_MACRO + "/" + script + " "), line
        assert not re.search(r"--token(\s|=|$)", line), line
        assert set(re.findall(r"\$[A-Z0-9_]+\$", line)) <= {PLUGIN_DIR_MACRO, TOKEN_FILE_MACRO, "$ARG1$", "$ARG2$"}
        assert ("--token-file %s" % TOKEN_FILE_MACRO in line) == (script in ("check_pryv_core", "check_pryv_platform"))
        assert ("--hostname $ARG1$" in line) == name.endswith("_dnsless"), line
    macros = dict(re.findall(r"^(\$USER\d+\$)=(.*)$", RESOURCE_EXAMPLE.read_text(), re.M))
    assert set(macros) == {PLUGIN_DIR_MACRO, TOKEN_FILE_MACRO}


def test_nagios_accepts_the_shipped_files(tmp_path):
    binary = nagios_binary()
    stock = tmp_path / "stock-objects.cfg"
    stock.write_text(STOCK_OBJECTS)
    conf = main_config(tmp_path, [stock, COMMANDS_CFG, SERVICES_EXAMPLE], RESOURCE_EXAMPLE)
    proc = subprocess.run([binary, "-v", str(conf)], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert re.search(r"Total Warnings:\s+0\b", report), report
    assert re.search(r"Total Errors:\s+0\b", report), report
    assert re.search(r"Checked 5 services\.", report), report
    assert re.search(r"Checked 2 hosts\.", report), report
    assert re.search(r"Checked 9 commands\.", report), report  # 2 stock ones, 7 shipped
    assert re.search(r"Checked 4 service dependencies$", report, re.M), report  # DNS -> register, core; register -> core


def test_nagios_accepts_the_shipped_optional_services_uncommented(tmp_path):
    """The commented-out definitions of pryv-services.cfg.example (beyond the guide, the platform's parts and their
    dependency), uncommented as an admin would, are valid too."""
    binary = nagios_binary()
    stock = tmp_path / "stock-objects.cfg"
    stock.write_text(STOCK_OBJECTS)
    services = tmp_path / "pryv-services.cfg"
    services.write_text(re.sub(r"^#(define |    |\})", r"\1", SERVICES_EXAMPLE.read_text(), flags=re.M))
    conf = main_config(tmp_path, [stock, COMMANDS_CFG, services], RESOURCE_EXAMPLE)
    proc = subprocess.run([binary, "-v", str(conf)], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert re.search(r"Total Warnings:\s+0\b", report), report
    assert re.search(r"Checked 13 services\.", report), report  # 5, 3 beyond the guide, 4 parts, the platform
    assert re.search(r"Checked 7 service dependencies$", report, re.M), report  # 4, and core -> its 3 parts


def example_objects(kind):
    """[{field: value}] of the `define KIND` blocks of pryv-services.cfg.example, the commented-out ones too."""
    text = re.sub(r"(?m)^#(?=define |    |\})", "", SERVICES_EXAMPLE.read_text())
    return [dict(re.match(r"\s*(\S+)\s+(.*\S)", line).groups() for line in block.splitlines()
                 if line.strip() and not line.strip().startswith("#"))
            for block in re.findall(r"^define\s+%s\s*\{(.*?)^\}" % kind, text, re.S | re.M)]


def test_example_services_have_notes_links_and_long_output():
    services = [s for s in example_objects("service") if "service_description" in s]
    assert len(services) == 13
    for service in services:
        assert "First look: " in service["notes"], service
        assert service["notes_url"].startswith("https://monitoring.example.com/check-pryv/plugins.html#"), service
        assert service["check_command"].endswith("--verbose"), service  # the long output, and what to do
        register = service["check_command"].startswith("check_pryv_register")
        assert ("action_url" in service) == register, service
        assert service["notes"] in icinga2_notes(), service  # the same words in both configuration languages


def icinga2_notes():
    """The notes of icinga2/pryv-services.conf: `notes = "..."` and its `notes += "..."` continuations."""
    text = (REPO / "icinga2" / "pryv-services.conf").read_text()
    return {"".join(re.findall(r'"(.*?)"', block))
            for block in re.findall(r'^\t+notes = ".*"\n(?:\t+notes \+= ".*"\n)*', text, re.M)}


def test_example_parents_reach_hard_before_their_children():
    """Each dependent service has more check attempts than its master, at the same retry interval: when both
    fail together, the master is HARD (and silences the dependent) first."""
    templates = {t["name"]: t for t in example_objects("service") if "name" in t}

    def attempts(service):
        while "max_check_attempts" not in service:
            service = templates[service["use"]]
        return int(service["max_check_attempts"])

    services = {(s["host_name"], s["service_description"]): s for s in example_objects("service")
                if "service_description" in s}
    dependencies = example_objects("servicedependency")
    assert dependencies
    for dependency in dependencies:
        master = services[dependency["host_name"], dependency["service_description"]]
        for child in dependency["dependent_service_description"].split(","):
            dependent = services[dependency["dependent_host_name"], child]
            assert attempts(dependent) > attempts(master), (child, dependency)
    retries = {templates[name].get("retry_interval") for name in templates}
    assert retries == {"1", None}, retries  # one retry interval, the base template's


def test_nagios_accepts_the_sandbox_printed_config(tmp_path, sandbox_session):
    """check_pryv_sandbox --print-config nagios: hosts, services and dependencies that nagios4 -v accepts."""
    from check_pryv.sandbox import configs

    binary = nagios_binary()
    stock, printed = tmp_path / "stock-objects.cfg", tmp_path / "pryv-sandbox.cfg"
    stock.write_text(STOCK_OBJECTS)
    printed.write_text(configs.nagios(sandbox_session))
    conf = main_config(tmp_path, [stock, COMMANDS_CFG, printed], RESOURCE_EXAMPLE)
    proc = subprocess.run([binary, "-v", str(conf)], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert re.search(r"Total Warnings:\s+0\b", report) and re.search(r"Total Errors:\s+0\b", report), report
    assert re.search(r"Checked 10 services\.", report), report  # the parts' too (the core's DNS-less only)
    assert re.search(r"Checked 9 service dependencies$", report, re.M), report  # each dependent counts
    text = printed.read_text()
    assert "check_pryv_core!%s!--address 127.0.0.1 --port %d" % (sandbox_session.domain, sandbox_session.http_port) in text
    assert sandbox_session.token not in text


# --- a real nagios4 -------------------------------------------------------------------------------------------


def resource_cfg(work, plugin_dir, token_file):
    """The shipped resource.cfg.example, its two macros pointing at the venv and the sandbox's token file."""
    values = {PLUGIN_DIR_MACRO: plugin_dir, TOKEN_FILE_MACRO: token_file}
    text = RESOURCE_EXAMPLE.read_text()
    for macro, value in values.items():
        text, count = re.subn(r"^%s=.*$" % re.escape(macro), lambda m: macro + "=" + value, text, flags=re.M)
        assert count == 1, macro
    path = work / "resource.cfg"
    path.write_text(text)
    path.chmod(0o600)
    return path


def without(args, option):
    """args without `option` and its value."""
    i = args.index(option)
    return args[:i] + args[i + 2:]


def live_services(sb):
    """{(host, service_description): check_command} on the shipped commands, aimed at the sandbox."""
    user = ["--username", sb.username]
    dns = ["--server", "127.0.0.1", "--port", str(sb.dns_port)] + user
    return {
        ("sandbox-dns-mode", "Pryv DNS"): "check_pryv_dns!%s!%s" % (sb.domain, " ".join(dns)),
        ("sandbox-dns-mode", "Pryv register"):
            "check_pryv_register!%s!%s" % (sb.domain, " ".join(without(dns_mode_args(sb), "--domain") + user)),
        ("sandbox-dns-mode", "Pryv core"):
            "check_pryv_core!%s!%s" % (sb.domain, " ".join(without(dns_mode_args(sb), "--domain") + user)),
        ("sandbox-dnsless", "Pryv register"): "check_pryv_register_dnsless!%s!%s" % (
            sb.hostname, " ".join(without(dnsless_args(sb), "--hostname") + user)),
        ("sandbox-dnsless", "Pryv core"): "check_pryv_core_dnsless!%s!%s" % (
            sb.hostname, " ".join(without(dnsless_args(sb), "--hostname") + user)),
    }


def live_objects(sb):
    parts = []
    for host in ("sandbox-dns-mode", "sandbox-dnsless"):
        parts.append("define host {\n    use generic-host\n    host_name %s\n    address 127.0.0.1\n"
                     "    check_command check-host-alive\n    check_period 24x7\n    max_check_attempts 1\n"
                     "    contact_groups admins\n}\n" % host)
    for (host, description), command in live_services(sb).items():
        parts.append("define service {\n    use generic-service\n    host_name %s\n    service_description %s\n"
                     "    check_command %s\n    check_interval 3600\n    retry_interval 3600\n"
                     "    max_check_attempts 1\n}\n" % (host, description, command))
    return "\n".join(parts)


def read_status(path):
    """[{field: value}] of the servicestatus blocks of status.dat."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    services = []
    for block in re.findall(r"^servicestatus \{\n(.*?)^\t\}", text, re.S | re.M):
        services.append(dict(line.strip().split("=", 1) for line in block.splitlines() if "=" in line))
    return services


class Nagios(Daemon):
    logs = ("daemon.log", "nagios.log")

    def __init__(self, binary, work, conf):
        self.binary, self.work, self.conf = binary, work, conf

    def start(self):
        self.spawn([self.binary, str(self.conf)])

    def command(self, line):
        """An external command, through the command file (a FIFO nagios reads)."""
        fd = os.open(self.work / "nagios.cmd", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, ("[%d] %s\n" % (time.time(), line)).encode())
        finally:
            os.close(fd)

    def results(self, keys, since):
        """{(host, service): status} once each service has a result checked at or after `since`."""
        end = time.monotonic() + DEADLINE
        while True:
            if self.proc.poll() is not None:
                pytest.fail("nagios4 exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            status = {(s["host_name"], s["service_description"]): s for s in read_status(self.work / "status.dat")}
            fresh = {k: status[k] for k in keys
                     if k in status and status[k].get("has_been_checked") == "1" and int(status[k]["last_check"]) >= since}
            if len(fresh) == len(keys):
                return fresh
            if time.monotonic() > end:
                pytest.fail("no fresh results for %s after %ss:\n%s" % (sorted(set(keys) - set(fresh)), DEADLINE,
                                                                       self.log_tail()))
            time.sleep(0.2)


@pytest.fixture(scope="module")
def nagios(sandbox_session, tmp_path_factory):
    binary = nagios_binary()
    sb = sandbox_session
    work = tmp_path_factory.mktemp("nagios-live")
    stock = work / "stock-objects.cfg"
    stock.write_text(STOCK_OBJECTS)
    objects = work / "sandbox-objects.cfg"
    objects.write_text(live_objects(sb))
    resources = resource_cfg(work, os.path.dirname(plugin_path("check_pryv_core")), sb.token_file)
    conf = main_config(work, [stock, COMMANDS_CFG, objects], resources, extra=[
        "interval_length=1",
        "service_inter_check_delay_method=n",  # every check at once at start-up
        "host_inter_check_delay_method=n",
        "check_result_reaper_frequency=1",
        "status_update_interval=1",
        "check_external_commands=1",
        "command_check_interval=-1",
        "retain_state_information=0",
        "use_retained_program_state=0",
        "use_retained_scheduling_info=0",
        "service_check_timeout=60",
    ])
    daemon = Nagios(binary, work, conf)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def first_round(nagios, sandbox_session):
    return nagios.results(list(live_services(sandbox_session)), since=0)


def assert_result(status, word, state, sb):
    label = {"0": "OK", "1": "WARNING", "2": "CRITICAL", "3": "UNKNOWN"}[str(state)]
    assert status["current_state"] == str(state), (status["plugin_output"], status["check_command"])
    assert status["plugin_output"].startswith("%s %s" % (word, label)), status["plugin_output"]
    assert "time=" in status["performance_data"], status
    assert sb.token not in "".join(status.values()), "the token leaked into the status"


@pytest.mark.parametrize("host, service", [
    ("sandbox-dns-mode", "Pryv DNS"), ("sandbox-dns-mode", "Pryv register"), ("sandbox-dns-mode", "Pryv core"),
    ("sandbox-dnsless", "Pryv register"), ("sandbox-dnsless", "Pryv core")])
def test_nagios_runs_the_shipped_command(first_round, sandbox_session, host, service):
    word = {"Pryv DNS": "PRYV_DNS", "Pryv register": "PRYV_REGISTER", "Pryv core": "PRYV_CORE"}[service]
    assert_result(first_round[(host, service)], word, 0, sandbox_session)


def test_rejected_token_turns_the_core_services_critical(nagios, first_round, sandbox):
    sandbox.set_faults(token="rejected")
    keys = [("sandbox-dns-mode", "Pryv core"), ("sandbox-dnsless", "Pryv core")]
    since = int(time.time()) + 1  # last_check has whole seconds: a run scheduled in the next one is fresh
    for host, service in keys:
        nagios.command("SCHEDULE_FORCED_SVC_CHECK;%s;%s;%d" % (host, service, since))
    for key, status in nagios.results(keys, since).items():
        assert_result(status, "PRYV_CORE", 2, sandbox)
        assert "token" in status["plugin_output"].lower(), status


def test_a_second_token_file_replaces_the_macro(sandbox, tmp_path):
    """pryv-services.cfg.example gives one platform its own token with a --token-file in $ARG2$, after
    the --token-file $USER11$ of the command: the plugin takes the last one."""
    wrong = tmp_path / "other-platform.token"
    wrong.write_text("not-this-platform-token\n")
    wrong.chmod(0o600)
    base = [plugin_path("check_pryv_core")] + dnsless_args(sandbox)
    for files, state in (([wrong, sandbox.token_file], 0), ([sandbox.token_file, wrong], 2)):
        argv = base + [a for f in files for a in ("--token-file", str(f))]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                              env={k: v for k, v in os.environ.items() if k != "PRYV_ACCESS_TOKEN"})
        assert proc.returncode == state, proc.stdout + proc.stderr


def example_templates():
    """The service templates of pryv-services.cfg.example, as written there."""
    return "\n".join(re.findall(r"^define service \{\n    name .*?^\}\n", SERVICES_EXAMPLE.read_text(), re.S | re.M))


def test_platform_down_notifies_once_the_register_hard_first(sandbox, tmp_path):
    """The example's templates (one check attempt more for the core than for the register it needs) with a real
    nagios4, a minute being a second: the DNS-less platform goes down, register and core fail together; the
    register is HARD first, and it alone notifies."""
    binary = nagios_binary()
    sandbox.set_faults(register="failing", core="down")
    sent = tmp_path / "notifications.log"
    stock = tmp_path / "stock-objects.cfg"
    notify = "command_line        /bin/true\n}\ndefine command {\n    command_name        check-host-alive"
    options = "service_notification_options    "
    stock.write_text(STOCK_OBJECTS.replace(options + "n", options + "w,u,c,r")
                     .replace(notify, notify.replace("/bin/true", "/bin/sh -c 'echo \"$SERVICEDESC$ $SERVICESTATE$\" "
                                                                  ">> %s'" % sent)))
    user = ["--username", sandbox.username]
    args = {"register": " ".join(without(dnsless_args(sandbox), "--hostname") + user),
            "core": " ".join(without(dnsless_args(sandbox), "--hostname") + user)}
    objects = tmp_path / "platform.cfg"
    objects.write_text(example_templates() + "\n" + "\n".join([
        "define host {\n    use generic-host\n    host_name down\n    address 127.0.0.1\n"
        "    check_command check-host-alive\n    max_check_attempts 1\n    contact_groups admins\n}",
        "define service {\n    use pryv-service\n    host_name down\n    service_description Pryv register\n"
        "    check_command check_pryv_register_dnsless!%s!%s\n}" % (sandbox.hostname, args["register"]),
        "define service {\n    use pryv-service-needs-3\n    host_name down\n    service_description Pryv core\n"
        "    check_command check_pryv_core_dnsless!%s!%s\n}" % (sandbox.hostname, args["core"]),
        "define servicedependency {\n    host_name down\n    service_description Pryv register\n"
        "    dependent_host_name down\n    dependent_service_description Pryv core\n"
        "    notification_failure_criteria w,u,c\n    execution_failure_criteria n\n}", ""]))
    resources = resource_cfg(tmp_path, os.path.dirname(plugin_path("check_pryv_core")), sandbox.token_file)
    conf = main_config(tmp_path, [stock, COMMANDS_CFG, objects], resources, extra=[
        "interval_length=1", "service_inter_check_delay_method=n", "host_inter_check_delay_method=n",
        "check_result_reaper_frequency=1", "status_update_interval=1", "retain_state_information=0",
        "use_retained_program_state=0", "use_retained_scheduling_info=0", "service_check_timeout=60",
        "enable_notifications=1"])
    daemon = Nagios(binary, tmp_path, conf)
    keys = [("down", "Pryv register"), ("down", "Pryv core")]
    try:
        daemon.start()
        end = time.monotonic() + DEADLINE
        while True:
            status = {(s["host_name"], s["service_description"]): s for s in read_status(tmp_path / "status.dat")}
            if all(status.get(k, {}).get("current_state") == "2" and status[k]["state_type"] == "1" for k in keys):
                break
            assert time.monotonic() < end, (status, daemon.log_tail())
            time.sleep(0.2)
        time.sleep(2)  # a notification for the core, were it sent, would follow its HARD state at once
    finally:
        daemon.stop()
    assert sent.read_text().splitlines() == ["Pryv register CRITICAL"], daemon.log_tail()
    assert int(status[keys[0]]["last_hard_state_change"]) <= int(status[keys[1]]["last_hard_state_change"])
