"""check_pryv_setup against the sandbox, over real sockets: the guide's preparation, repeated safely."""
import argparse
import grp
import json
import os
import pathlib
import pty
import pwd
import re
import select
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest
import requests

from check_pryv.setup import steps
from check_pryv.client import Answer
from conftest import cannot, dns_mode_args, dnsless_args, plugin_path, run_plugin

NEW_USER = "healthmetrics02"
NEW_PASSWORD = "Fresh-Setup-Pass-42"


def setup(sb, *extra, mode=dns_mode_args, password=NEW_PASSWORD, username=NEW_USER):
    args = [*mode(sb), "--username", username, *extra]
    return run_plugin("check_pryv_setup", *args, env={"PRYV_PASSWORD": password} if password is not None else None)


def token_of(path):
    return open(path, encoding="utf-8").read().strip()


def pasted(result, start):
    """The pasted line that starts with `start`, as printed on stderr."""
    return next(line.strip() for line in result.stderr.splitlines() if line.strip().startswith(start))


def run_pasted_core_command(result, env=None):
    """Runs the check_pryv_core line exactly as the operator would paste it (after `# check it now:`)."""
    lines = [line.strip() for line in result.stderr.splitlines()]
    words = shlex.split(lines[lines.index("# check it now:") + 1])
    assert words[0] == "check_pryv_core"
    return run_plugin("check_pryv_core", *words[1:], env=env)


def api(sb, method, username, path, token=None, **kwargs):
    """A call to the sandbox's core in DNS-less form, for the tests to look at the platform themselves."""
    headers = {"Authorization": token} if token else {}
    headers.update(kwargs.pop("headers", {}))
    url = "https://%s:%d/%s/%s" % (sb.hostname, sb.http_port, username, path)
    return requests.request(method, url, headers=headers, verify=sb.ca_file, timeout=10, **kwargs)


def login(sb, username, password, app_id="pryv-metrics"):
    answer = api(sb, "POST", username, "auth/login", headers={"Origin": "https://%s" % sb.hostname},
                 json={"username": username, "password": password, "appId": app_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def shared_accesses(sb, username, password):
    answer = api(sb, "GET", username, "accesses", token=login(sb, username, password))
    return sorted((a["name"], a["token"], a["modified"]) for a in answer.json()["accesses"] if a["type"] == "shared")


# --- a fresh platform, then again ----------------------------------------------------------------------

def test_setup_fresh_platform_creates_account_and_working_token(sandbox, tmp_path):
    token_file = tmp_path / "token"
    result = setup(sandbox, "--token-file", str(token_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "register: account healthmetrics02 created on hosting hosting1" in result.stderr
    assert "core: signed in as healthmetrics02 (Origin https://sw.pryv.test)" in result.stderr
    assert 'core: access "metricsAccess" created (manage on *, no expiry)' in result.stderr
    assert "core: token verified (access-info, events?limit=1)" in result.stderr
    assert "token written to %s (mode 0600)" % token_file in result.stderr
    token = token_of(token_file)
    assert token and token != sandbox.token
    core = run_pasted_core_command(result)
    assert core.returncode == 0, core.stdout
    assert core.stdout.startswith("PRYV_CORE OK - events answered 200")


def test_setup_paste_lines(sandbox, tmp_path):
    token_file = tmp_path / "token"
    result = setup(sandbox, "--token-file", str(token_file))
    assert result.returncode == 0, result.stderr
    token = token_of(token_file)
    assert pasted(result, "check_pryv_core") == (
        "check_pryv_core --domain pryv.test --username healthmetrics02 --address 127.0.0.1 --port %d "
        "--ca-cert %s --token-file %s" % (sandbox.http_port, sandbox.ca_file, token_file))
    lines = [line.strip() for line in result.stderr.splitlines()]
    icinga = lines.index("# Icinga 2, on the Host object; the file readable by the user that runs the checks (see "
                         "--owner) on every node that runs the check:")
    # every variable the check needs, in the platform-wide names that pryv-services.conf reads
    assert lines[icinga + 1:icinga + 7] == [
        'vars.pryv_domain = "pryv.test"', 'vars.pryv_username = "healthmetrics02"',
        'vars.pryv_address = "127.0.0.1"', "vars.pryv_port = %d" % sandbox.http_port,
        'vars.pryv_ca_cert = "%s"' % sandbox.ca_file, 'vars.pryv_core_token_file = "%s"' % token_file]
    assert pasted(result, "$USER11$=") == "$USER11$=%s" % token_file
    assert pasted(result, "check_command") == (
        "check_command check_pryv_core!pryv.test!--username healthmetrics02 --address 127.0.0.1 --port %d "
        "--ca-cert %s" % (sandbox.http_port, sandbox.ca_file))
    assert token not in result.stderr  # the lines to paste name the file, never the token


def test_setup_prints_the_platform_line_that_checks_every_part(sandbox, tmp_path):
    """The check_pryv_platform line, pasted as printed, runs every check of the platform with the new token: all OK
    (DNS-less: the sandbox's one hosting; the parts too, since the access made has manage on *)."""
    token_file = tmp_path / "token"
    result = setup(sandbox, "--token-file", str(token_file), mode=dnsless_args)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stderr.splitlines()]
    words = shlex.split(lines[lines.index("# or every check of the platform at once:") + 1])
    assert words == ["check_pryv_platform", "--hostname", sandbox.hostname, "--username", NEW_USER, "--port",
                     str(sandbox.http_port), "--ca-cert", sandbox.ca_file, "--token-file", str(token_file)]
    checked = run_plugin(*words)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("PRYV_PLATFORM OK - 10 checks OK: register, hostings, service-info, auth-request, "
                                     "core, write, series, attachment, notifications, certificate | ")
    assert token_of(token_file) not in checked.stdout + result.stderr


def test_setup_second_run_gives_same_token_and_changes_nothing(sandbox, tmp_path):
    token_file = tmp_path / "token"
    first = setup(sandbox, "--token-file", str(token_file))
    assert first.returncode == 0, first.stderr
    token, before = token_of(token_file), os.stat(token_file)
    accesses = shared_accesses(sandbox, NEW_USER, NEW_PASSWORD)

    second = setup(sandbox, "--token-file", str(token_file))
    assert second.returncode == 0, second.stderr
    assert "register: account healthmetrics02 exists" in second.stderr
    assert 'core: access "metricsAccess" already exists: reusing its token' in second.stderr
    assert "token unchanged in %s (mode 0600)" % token_file in second.stderr
    os.chmod(token_file, 0o400)  # as an operator may leave it, with the monitoring user as owner
    third = setup(sandbox, "--token-file", str(token_file))
    assert "token unchanged in %s (mode 0400)" % token_file in third.stderr
    assert token_of(token_file) == token
    assert (os.stat(token_file).st_ino, os.stat(token_file).st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert shared_accesses(sandbox, NEW_USER, NEW_PASSWORD) == accesses
    assert [name for name, _, _ in accesses] == ["metricsAccess"]


def test_setup_existing_access_is_reused(sandbox):
    result = setup(sandbox, username=sandbox.username, password=sandbox.password)
    assert result.returncode == 0, result.stderr
    assert result.stdout == sandbox.token + "\n"
    assert 'core: access "metricsAccess" already exists: reusing its token' in result.stderr


def test_setup_existing_access_that_expires_is_refused(sandbox):
    session = login(sandbox, sandbox.username, sandbox.password)
    created = api(sandbox, "POST", sandbox.username, "accesses", token=session,
                  json={"name": "shortLived", "permissions": [{"streamId": "*", "level": "read"}],
                        "expireAfter": 3600})
    assert created.status_code == 201, created.text
    result = setup(sandbox, "--access-name", "shortLived", username=sandbox.username, password=sandbox.password)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert 'error: core: the existing access "shortLived" expires (at 20' in result.stderr
    assert "give another --access-name" in result.stderr


def add_access(sb, name, permissions, kind="shared"):
    """An access of the sandbox's health account, made as its owner would in an app; returns its token."""
    session = login(sb, sb.username, sb.password)
    created = api(sb, "POST", sb.username, "accesses", token=session,
                  json={"name": name, "permissions": permissions, "type": kind})
    assert created.status_code == 201, created.text
    return created.json()["access"]["token"]


def test_setup_existing_access_that_cannot_write_is_refused_and_nothing_changes(sandbox, tmp_path):
    token = add_access(sandbox, "readOnly", [{"streamId": "diary", "level": "read"}])
    token_file = tmp_path / "token"
    result = setup(sandbox, "--access-name", "readOnly", "--token-file", str(token_file),
                   username=sandbox.username, password=sandbox.password)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        'check_pryv_setup: error: core: the existing access "readOnly" cannot serve check_pryv_core: it has read on '
        "diary, and check_pryv_core --write needs contribute or manage on the stream check-pryv (this command "
        "creates the access with manage on *). Nothing was changed: delete the access in the app and run this "
        "command again, or run it with another --access-name")
    assert "token verified" not in result.stderr and not token_file.exists()
    # what reusing it would have led to
    core = run_plugin("check_pryv_core", *dnsless_args(sandbox), "--write", env={"PRYV_ACCESS_TOKEN": token})
    assert core.returncode == 2 and "403 forbidden" in core.stdout, core.stdout


def test_setup_existing_access_on_the_check_stream_is_reused_once_the_stream_exists(sandbox):
    token = add_access(sandbox, "onCheckStream", [{"streamId": "check-pryv", "level": "contribute"}])
    missing = setup(sandbox, "--access-name", "onCheckStream", username=sandbox.username, password=sandbox.password)
    assert missing.returncode == 1 and missing.stdout == "", missing.stderr
    assert ("it has contribute on check-pryv, and the stream check-pryv does not exist: check_pryv_core --write's "
            "first run would create it, which needs manage on *. Nothing was changed") in missing.stderr
    session = login(sandbox, sandbox.username, sandbox.password)
    made = api(sandbox, "POST", sandbox.username, "streams", token=session, json={"id": "check-pryv", "name": "c"})
    assert made.status_code == 201, made.text
    reused = setup(sandbox, "--access-name", "onCheckStream", username=sandbox.username, password=sandbox.password)
    assert reused.returncode == 0, reused.stderr
    assert reused.stdout == token + "\n"
    for _ in range(2):  # an empty stream reads as an event deleted by someone: the first run says so, and mends it
        core = run_plugin("check_pryv_core", *dnsless_args(sandbox), "--write", env={"PRYV_ACCESS_TOKEN": token})
    assert core.returncode == 0, core.stdout


def test_setup_app_access_with_the_same_name_is_never_handed_out(sandbox):
    """Pryv keeps an app access and a shared one of the same name apart: only the shared one is the health access."""
    app_token = add_access(sandbox, "healthShared", [{"streamId": "*", "level": "manage"}], kind="app")
    first = setup(sandbox, "--access-name", "healthShared", username=sandbox.username, password=sandbox.password)
    assert first.returncode == 0, first.stderr
    assert 'core: access "healthShared" created (manage on *, no expiry)' in first.stderr
    again = setup(sandbox, "--access-name", "healthShared", username=sandbox.username, password=sandbox.password)
    assert again.returncode == 0, again.stderr
    assert 'core: access "healthShared" already exists: reusing its token' in again.stderr
    assert again.stdout == first.stdout != app_token + "\n"


def test_setup_dnsless_mode(sandbox, tmp_path):
    token_file = tmp_path / "token"
    # the sandbox's host name is localhost: the default e-mail healthmetrics03@localhost has no dot
    result = setup(sandbox, "--token-file", str(token_file), "--email", "healthmetrics03@example.com",
                   mode=dnsless_args, username="healthmetrics03")
    assert result.returncode == 0, result.stderr
    assert "register: account healthmetrics03 created\n" in result.stderr
    assert "core: signed in as healthmetrics03 (Origin https://localhost)" in result.stderr
    core = run_pasted_core_command(result)
    assert core.returncode == 0, core.stdout
    again = setup(sandbox, "--token-file", str(token_file), mode=dnsless_args, username="healthmetrics03")
    assert again.returncode == 0, again.stderr
    assert "token unchanged in" in again.stderr


def test_setup_dnsless_default_email_is_accepted(sandbox):
    """v2 takes any e-mail string up to 300 characters (its schema's helpers.email), USERNAME@localhost too."""
    result = setup(sandbox, mode=dnsless_args)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == "register: account healthmetrics02 created"


def test_setup_dnsless_too_long_email_is_refused_clearly(sandbox):
    email = "x" * 291 + "@localhost"  # 301 characters
    result = setup(sandbox, "--email", email, mode=dnsless_args)
    assert result.returncode == 1, result.stderr
    assert ("error: account creation refused: e-mail %r is refused: give another --email "
            "(400 invalid-parameters-format: " % email) in result.stderr


# --- where the token goes ------------------------------------------------------------------------------

def test_setup_without_token_file_prints_token_alone_on_stdout(sandbox):
    result = setup(sandbox)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token
    assert token not in result.stderr  # on screen, the lines to paste only say where the token went
    assert pasted(result, "vars.pryv_core_token") == 'vars.pryv_core_token = "<the token printed on stdout>"'
    core = run_pasted_core_command(result, env={"PRYV_ACCESS_TOKEN": token})
    assert core.returncode == 0, core.stdout


def test_setup_token_file_is_private_whatever_the_umask(sandbox, tmp_path):
    token_file = tmp_path / "token"
    previous = os.umask(0)  # the child inherits it: a plain open() would make the file world-readable
    try:
        result = setup(sandbox, "--token-file", str(token_file))
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token"]  # no temporary file left behind


def test_setup_token_file_holding_another_token_needs_force(sandbox, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("another-token\n")
    result = setup(sandbox, "--token-file", str(token_file))
    assert result.returncode == 1, result.stderr
    assert "error: %s holds another token: not replaced (give --force" % token_file in result.stderr
    assert token_file.read_text() == "another-token\n"
    forced = setup(sandbox, "--token-file", str(token_file), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "token replaced in %s (mode 0600)" % token_file in forced.stderr
    assert token_of(token_file) != "another-token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600


def test_setup_token_file_in_missing_directory_is_a_usage_error(sandbox, tmp_path):
    result = setup(sandbox, "--token-file", str(tmp_path / "nowhere" / "token"))
    assert result.returncode == 2
    assert "cannot use --token-file %s: directory %s does not exist" % (
        tmp_path / "nowhere" / "token", tmp_path / "nowhere") in result.stderr


# --- --owner: the token file for the user that runs the checks ----------------------------------------

def ownership(path):
    """(owner, group, mode) of a file, by name."""
    info = os.stat(path)
    return pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name, stat.S_IMODE(info.st_mode)


def readable_as(user, path):
    """Whether `user` can read `path`, tried by a real process of that user."""
    entry = pwd.getpwnam(user)
    return subprocess.run(["cat", str(path)], user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                          capture_output=True, timeout=10).returncode == 0


@pytest.fixture
def shared_dir():
    """A directory every user may enter (pytest's tmp_path is root's alone), so that only the file's mode counts."""
    if os.geteuid() != 0:
        cannot("--owner gives a file to another user: root only")
    folder = tempfile.mkdtemp(prefix="check_pryv-owner-")
    os.chmod(folder, 0o755)
    yield pathlib.Path(folder)
    shutil.rmtree(folder)


def test_setup_owner_gives_the_token_file_to_that_user_alone(sandbox, shared_dir):
    token_file = shared_dir / "token"
    result = setup(sandbox, "--token-file", str(token_file), "--owner", "nobody")
    assert result.returncode == 0, result.stderr
    assert "token written to %s (mode 0600, owner nobody)" % token_file in result.stderr
    assert ownership(token_file) == ("nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name, 0o600)
    assert readable_as("nobody", token_file) and not readable_as("nagios", token_file)
    assert ("# Icinga 2, on the Host object; the file readable by nobody on every node that runs the check:"
            in result.stderr)
    assert ("# Nagios, in resource.cfg (mode 600): the token file that nagios/pryv-commands.cfg reads, "
            "readable by nobody" in result.stderr)
    assert sorted(p.name for p in shared_dir.iterdir()) == ["token"]  # no temporary file left behind
    again = setup(sandbox, "--token-file", str(token_file), "--owner", "nobody")
    assert "token unchanged in %s (mode 0600, owner nobody)" % token_file in again.stderr


def test_setup_owner_with_a_group_lets_that_group_read(sandbox, shared_dir):
    token_file = shared_dir / "token"
    first = setup(sandbox, "--token-file", str(token_file))  # root's file, then given away on a second run
    assert first.returncode == 0, first.stderr
    result = setup(sandbox, "--token-file", str(token_file), "--owner", "nobody:nagios")
    assert result.returncode == 0, result.stderr
    assert "token written to %s (mode 0640, owner nobody:nagios)" % token_file in result.stderr
    assert ownership(token_file) == ("nobody", "nagios", 0o640)
    assert readable_as("nagios", token_file) and not readable_as("daemon", token_file)
    assert "the file readable by nobody and the group nagios on every node" in result.stderr


@pytest.mark.parametrize("owner, message", [
    ("no-such-user", "argument --owner: unknown user 'no-such-user'"),
    ("nobody:no-such-group", "argument --owner: unknown group 'no-such-group'"),
])
def test_setup_owner_unknown_is_a_usage_error(sandbox, tmp_path, owner, message):
    result = setup(sandbox, "--token-file", str(tmp_path / "token"), "--owner", owner)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "check_pryv_setup: error: " + message
    assert list(tmp_path.iterdir()) == []


def test_setup_owner_without_token_file_is_a_usage_error(sandbox):
    result = setup(sandbox, "--owner", "nobody")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "check_pryv_setup: error: --owner applies to --token-file: without it the token goes to stdout")
    assert result.stdout == ""


# --- the platform says no ------------------------------------------------------------------------------

def test_setup_wrong_password_is_refused(sandbox):
    # no 8 characters of the password in the message: they would be hidden
    result = setup(sandbox, username=sandbox.username, password="not-the-right-one")
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert ("error: account healthmetrics01 exists but refuses this password (401 invalid-credentials: The given "
            "username/password pair is invalid): give its password with --password-file or PRYV_PASSWORD"
            ) in result.stderr


def test_setup_untrusted_origin_is_refused_naming_it(sandbox):
    result = setup(sandbox, "--origin", "https://monitoring.example.com", username=sandbox.username,
                   password=sandbox.password)
    assert result.returncode == 1, result.stderr
    assert ("error: the platform does not trust the sign-in of app id 'pryv-metrics' from Origin "
            "https://monitoring.example.com (401 invalid-credentials: The app id (\"appId\") is either missing "
            "or not trusted). Give --origin an origin that the core's auth.trustedApps setting accepts, or add "
            "pryv-metrics@https://monitoring.example.com to it") in result.stderr


@pytest.mark.parametrize("mode, shape", [(dns_mode_args, "400 INVALID_USER_NAME: Invalid user name - User name "
                                                         "must be made of 5 to 60 alphanumeric characters"),
                                         (dnsless_args, "400 invalid-parameters-format: The parameters' format is "
                                                        "invalid - username: username-invalid")],
                         ids=["dns-mode", "dns-less"])
def test_setup_invalid_username_is_refused(sandbox, mode, shape):
    result = setup(sandbox, mode=mode, username="abc")
    assert result.returncode == 1, result.stderr
    assert ("error: username 'abc' is refused: give another --username (%s"
            % shape) in result.stderr


def test_setup_reserved_username_is_refused(sandbox):
    result = setup(sandbox, username="administrator")
    assert result.returncode == 1, result.stderr
    assert ("error: username 'administrator' is reserved on this platform: give another --username"
            in result.stderr)


def test_setup_unavailable_hosting_is_refused(sandbox):
    result = setup(sandbox, "--hosting", "hosting2")
    assert result.returncode == 1, result.stderr
    assert ("error: hosting 'hosting2' is not available for new accounts; the register lists: "
            "hosting1 (available), hosting2 (not available)") in result.stderr


def test_setup_unknown_hosting_is_refused(sandbox):
    result = setup(sandbox, "--hosting", "hosting9")
    assert result.returncode == 1, result.stderr
    assert ("error: hosting 'hosting9' is unknown to the register; it lists: "
            "hosting1 (available), hosting2 (not available)") in result.stderr


@pytest.mark.parametrize("mode, shape", [(dns_mode_args, "(400 EXISTING_EMAIL: E-mail already exists"),
                                         (dnsless_args, "(409 item-already-exists: ")],
                         ids=["dns-mode", "dns-less"])
def test_setup_email_taken_is_refused(sandbox, mode, shape):
    result = setup(sandbox, "--email", "healthmetrics01@pryv.test", mode=mode)
    assert result.returncode == 1, result.stderr
    assert ("error: account creation refused: e-mail 'healthmetrics01@pryv.test' already belongs to another "
            "account: give another --email " + shape) in result.stderr


def test_setup_register_failing_is_refused(sandbox):
    sandbox.set_faults(register="failing")
    result = setup(sandbox)
    assert result.returncode == 1, result.stderr
    assert "error: register: check_username answered 500 INTERNAL_ERROR: Internal error" in result.stderr


# --- the platform does not answer ----------------------------------------------------------------------

def test_setup_core_down_is_unreachable(sandbox):
    sandbox.set_faults(core="down")
    result = setup(sandbox, username=sandbox.username, password=sandbox.password)
    assert result.returncode == 3, result.stderr
    assert ("error: core unreachable: POST https://healthmetrics01.pryv.test:%d/auth/login answered "
            "502 HTML page '502 Bad Gateway'" % sandbox.http_port) in result.stderr


def test_setup_register_unreachable(sandbox):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run_plugin("check_pryv_setup", "--domain", "pryv.test", "--address", "127.0.0.1", "--port", str(port),
                        "--ca-cert", sandbox.ca_file, env={"PRYV_PASSWORD": NEW_PASSWORD})
    assert result.returncode == 3, result.stderr
    assert ("error: register unreachable: cannot connect to reg.pryv.test:%d (127.0.0.1): connection refused"
            % port) in result.stderr


def test_setup_slow_platform_times_out(sandbox):
    sandbox.set_faults(delay=3)
    result = setup(sandbox, "--timeout", "1")
    assert result.returncode == 3, result.stderr
    assert "error: register unreachable: no answer from reg.pryv.test:%d (127.0.0.1): timed out" % (
        sandbox.http_port) in result.stderr


# --- the password --------------------------------------------------------------------------------------

def test_setup_without_password_is_a_usage_error(sandbox, monkeypatch):
    monkeypatch.delenv("PRYV_PASSWORD", raising=False)
    result = setup(sandbox, password=None)
    assert result.returncode == 2
    assert result.stdout == ""
    assert ("check_pryv_setup: error: no password: give --password-file FILE, set PRYV_PASSWORD, or run it on a "
            "terminal") in result.stderr


def test_setup_password_file(sandbox, tmp_path, monkeypatch):
    monkeypatch.delenv("PRYV_PASSWORD", raising=False)
    password_file = tmp_path / "password"
    password_file.write_text(sandbox.password + "\n")
    result = setup(sandbox, "--password-file", str(password_file), username=sandbox.username, password=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout == sandbox.token + "\n"


def test_setup_empty_password_file_is_a_usage_error(sandbox, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text("\n")
    result = setup(sandbox, "--password-file", str(password_file))
    assert result.returncode == 2
    assert "error: the password from --password-file %s is empty" % password_file in result.stderr


@pytest.mark.parametrize("case", ["fresh", "again", "wrong-origin", "email-taken", "core-down", "register-failing"])
@pytest.mark.parametrize("verbosity", [[], ["-v"]], ids=["quiet", "verbose"])
def test_setup_password_never_in_output(sandbox, tmp_path, case, verbosity):
    password = "Do-Not-Print-Me-7"
    args = {"fresh": [], "again": [], "wrong-origin": ["--origin", "https://evil.example"],
            "email-taken": ["--email", "healthmetrics01@pryv.test"], "core-down": [],
            "register-failing": []}[case]
    if case == "again":
        assert setup(sandbox, password=password).returncode == 0
    sandbox.set_faults(**{"core-down": {"core": "down"}, "register-failing": {"register": "failing"}}.get(case, {}))
    result = setup(sandbox, *args, *verbosity, password=password)
    assert password not in result.stdout + result.stderr
    assert result.returncode == (0 if case in ("fresh", "again") else 3 if case == "core-down" else 1), result.stderr


# --- the arguments -------------------------------------------------------------------------------------

def test_setup_hosting_in_dnsless_mode_is_a_usage_error(sandbox):
    result = setup(sandbox, "--hosting", "hosting1", mode=dnsless_args)
    assert result.returncode == 2
    assert "--hosting applies to DNS mode (--domain) only" in result.stderr


def test_setup_invalid_origin_is_a_usage_error(sandbox):
    result = setup(sandbox, "--origin", "https://sw.pryv.test/app")
    assert result.returncode == 2
    assert "invalid origin 'https://sw.pryv.test/app'" in result.stderr


# --- on a terminal -------------------------------------------------------------------------------------

def on_terminal(argv, answers, timeout=20):
    """Runs argv on a new pseudo-terminal, typing one answer at each new prompt; returns (status, transcript)."""
    env = {k: v for k, v in os.environ.items() if k != "PRYV_PASSWORD"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout, stderr and /dev/tty
        os.execve(argv[0], argv, env)
    transcript, answered, answers = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
            if answers and len(transcript) > answered and transcript.endswith(b": "):
                os.write(fd, answers.pop(0).encode() + b"\n")
                answered = len(transcript)
        else:
            os.kill(pid, signal.SIGKILL)  # stuck: never leave it waiting at a prompt
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), transcript.decode("utf-8", "replace")


def test_setup_prompts_twice_on_a_terminal_for_a_new_account(sandbox, tmp_path):
    token_file = tmp_path / "token"
    status, transcript = on_terminal(
        [plugin_path("check_pryv_setup"), *dns_mode_args(sandbox), "--username", NEW_USER,
         "--token-file", str(token_file)], [NEW_PASSWORD, NEW_PASSWORD])
    assert status == 0, transcript
    assert "Password of healthmetrics02:" in transcript
    assert "The account does not exist yet; password again, to create it:" in transcript
    assert NEW_PASSWORD not in transcript  # not echoed
    assert "register: account healthmetrics02 created" in transcript
    assert token_of(token_file)


def test_setup_different_passwords_on_a_terminal_create_nothing(sandbox):
    status, transcript = on_terminal(
        [plugin_path("check_pryv_setup"), *dns_mode_args(sandbox), "--username", NEW_USER],
        [NEW_PASSWORD, "a-typo-" + NEW_PASSWORD])
    assert status == 2, transcript
    assert "check_pryv_setup: error: the two passwords differ" in transcript
    check = run_plugin("check_pryv_register", *dns_mode_args(sandbox), "--username", NEW_USER)
    assert check.returncode == 1, check.stdout  # the register still does not know it


def test_setup_password_option_is_refused_without_echoing_it(sandbox):
    for words in (["--password", "Typed-In-Clear-1"], ["--password=Typed-In-Clear-1"], ["--pass", "Typed-In-Clear-1"],
                  ["Typed-In-Clear-1"]):
        result = setup(sandbox, *words)
        assert result.returncode == 2
        assert result.stdout == ""
        assert "Typed-In-Clear-1" not in result.stdout + result.stderr


def test_preparation_chapter_documents_every_option():
    help_text = run_plugin("check_pryv_setup", "--help").stdout
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    chapter = ""
    for name in ("README.rst", os.path.join("docs", "setup.rst")):  # the README runs it, docs/setup.rst has each option
        with open(os.path.join(root, name), encoding="utf-8") as stream:
            chapter += stream.read()
    options = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
    assert sorted(o for o in options if "``%s" % o not in chapter and ", %s" % o not in chapter) == []


def test_setup_reserved_username_dnsless_is_refused(sandbox):
    # v2's check_username says `reserved: false` and its creation a 409 naming the username: the core's 404 tells
    # the rest
    result = setup(sandbox, mode=dnsless_args, username="admin")
    assert result.returncode == 1, result.stderr
    assert ("error: the register says admin is taken but its core does not know it: the name is reserved "
            "on this platform, or the account is gone from its core (404 unknown-resource: Unknown user "
            "\"admin\")") in result.stderr


# --- account creation, against a register the sandbox does not imitate ---------------------------------

class StubRegister:
    """Answers each register call from a list of (status, body), and records the calls."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def register(self, method, path, body=None):
        self.calls.append((method, path, body))
        status, reply = self.answers.pop(0)
        return Answer("https://reg.pryv.test/" + path, status, "", {}, json.dumps(reply).encode(), 0.01,
                      "127.0.0.1", False)


def creation_args(**overrides):
    args = argparse.Namespace(domain="pryv.test", hostname=None, username=NEW_USER, email="hm@pryv.test",
                              hosting=None, app_id="pryv-metrics")
    vars(args).update(overrides)
    return args


HOSTINGS = {"regions": {"r": {"zones": {"z": {"hostings": {"h1": {"available": True}}}}}}}


def test_create_account_falls_back_to_users_with_its_own_fields(capsys):
    register = StubRegister((200, HOSTINGS), (404, {"id": "NOT_FOUND", "message": "no such route"}),
                            (201, {"username": NEW_USER, "apiEndpoint": "https://x@pryv.test/"}))
    steps.create_account(register, creation_args(), "pass-word-1")
    assert register.calls == [
        ("GET", "hostings", None),
        ("POST", "user", {"username": NEW_USER, "password": "pass-word-1", "email": "hm@pryv.test",
                          "hosting": "h1", "appid": "pryv-metrics", "languageCode": "en"}),
        ("POST", "users", {"username": NEW_USER, "password": "pass-word-1", "email": "hm@pryv.test",
                           "appId": "pryv-metrics", "language": "en"})]
    assert "register: account healthmetrics02 created on hosting h1" in capsys.readouterr().err


def test_create_account_several_register_errors_each_get_their_sentence():
    errors = [{"id": "INVALID_EMAIL", "message": "Invalid email address"},
              {"id": "INVALID_PASSWORD", "message": "Invalid password"}]
    register = StubRegister((200, HOSTINGS), (400, {"id": "INVALID_DATA", "message": "Invalid Data", "errors": errors}))
    with pytest.raises(steps.Refused) as refused:
        steps.create_account(register, creation_args(), "short")
    assert str(refused.value) == ("account creation refused: e-mail 'hm@pryv.test' is refused: give another --email; "
                                  "the password is refused: choose another (400 INVALID_DATA: Invalid Data)")


def test_create_account_hosting_the_register_then_refuses():
    register = StubRegister((200, HOSTINGS), (400, {"id": "UNAVAILABLE_HOSTING", "message": "Hosting not available"}))
    with pytest.raises(steps.Refused) as refused:
        steps.create_account(register, creation_args(hosting="h1"), "pass-word-1")
    assert str(refused.value).startswith("account creation refused: hosting 'h1' does not take new accounts")


def test_create_account_already_created_goes_on_to_sign_in(capsys):
    register = StubRegister((200, HOSTINGS), (400, {"id": "EXISTING_USER_NAME", "message": "Username already exists"}))
    steps.create_account(register, creation_args(), "pass-word-1")
    assert "register: account healthmetrics02 exists" in capsys.readouterr().err


def test_setup_insecure_says_so_once(sandbox):
    result = run_plugin("check_pryv_setup", "--domain", sandbox.domain, "--address", "127.0.0.1", "--port",
                        str(sandbox.http_port), "--insecure", env={"PRYV_PASSWORD": sandbox.password})
    assert result.returncode == 0, result.stderr
    assert result.stdout == sandbox.token + "\n"
    assert result.stderr.count("certificate") == 1
    assert result.stderr.startswith("warning: --insecure: the platform's certificate is not verified\n")


def test_setup_password_given_as_password_file_is_not_repeated(sandbox):
    result = setup(sandbox, "--password-file", "Typed-In-Clear-2", password=None)
    assert result.returncode == 2
    assert "error: cannot read --password-file: No such file or directory" in result.stderr
    assert "Typed-In-Clear-2" not in result.stdout + result.stderr


def test_create_account_missing_field_shows_the_platform_words_without_advice():
    # v2's answer when /reg/user lacks `appid`: `path: "#/"` says a field is missing, which no option mends.
    missing = {"error": {"id": "invalid-parameters-format", "message": "The parameters' format is invalid.",
                         "data": [{"code": "appid-invalid", "message": "Missing required field: appId", "path": "#/",
                                   "param": "appId"}]}}
    register = StubRegister((400, missing))
    with pytest.raises(steps.Refused) as refused:
        steps.create_account(register, creation_args(domain=None, hostname="127.0.0.1"), "pass-word-1")
    assert str(refused.value) == ("account creation refused: 400 invalid-parameters-format: The parameters' format is "
                                  "invalid - appId: appid-invalid (Missing required field: appId)")
