"""Every core of the platform: check_pryv_setup --all-hostings against the sandbox, whose hostings have cores of
their own, over real sockets. Each account lives on its hosting's core (its DNS name points there), and each
account's checks reflect that core alone."""
import argparse
import os
import re
import stat

import dns.message
import dns.query
import pytest

from check_pryv.setup import steps
from conftest import dns_mode_args, dnsless_args, run_plugin

PASSWORD = "Every-Core-Pass-7"
PASTE = 'vars.pryv_cores["%s"] = { username = "healthmetrics01-%s", token_file = "%s" }'
USERNAME_RULE = re.compile(r"[a-z0-9][a-z0-9-]{3,58}[a-z0-9]")


def setup_all(sb, token_file, *extra, mode=dns_mode_args):
    return run_plugin("check_pryv_setup", *mode(sb), "--all-hostings", "--token-file", str(token_file), *extra,
                      env={"PRYV_PASSWORD": PASSWORD})


def core(sb, username, token_file, *extra, mode=dns_mode_args):
    return run_plugin("check_pryv_core", *mode(sb), "--username", username, "--token-file", str(token_file), *extra)


def cname(sb, name):
    """The CNAME that the sandbox's DNS server gives for `name`, over UDP."""
    answer = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=sb.dns_port, timeout=5)
    return [str(r.target) for rrset in answer.answer for r in rrset if rrset.rdtype == dns.rdatatype.CNAME]


def test_all_hostings_one_account_per_core_each_checked_alone(sandbox, tmp_path):
    sandbox.set_faults(hostings="all-available")
    result = setup_all(sandbox, tmp_path / "pryv.token")
    assert result.returncode == 0, result.stderr
    files = {h: tmp_path / ("pryv-%s.token" % h) for h in ("hosting1", "hosting2")}
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert lines[-2:] == [PASTE % (h, h, files[h]) for h in ("hosting1", "hosting2")]
    assert "register: account healthmetrics01-hosting2 created on hosting hosting2" in lines
    for hosting, path in files.items():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        username = "healthmetrics01-" + hosting
        assert sandbox._users[username]["hosting"] == hosting
        core_name = "co%s.%s." % (hosting[-1], sandbox.domain)
        assert cname(sandbox, "%s.%s" % (username, sandbox.domain)) == [core_name]
        checked = core(sandbox, username, path, "--write")
        assert checked.returncode == 0, checked.stdout
        assert "; first run: stream check-pryv and its event created, read back |" in checked.stdout
    assert open(files["hosting1"]).read() != open(files["hosting2"]).read()

    # one core down: only the checks of its account turn CRITICAL
    sandbox.set_faults(**{"core-down": "hosting2"})
    down = core(sandbox, "healthmetrics01-hosting2", files["hosting2"], "--write")
    assert down.returncode == 2, down.stdout
    assert down.stdout.startswith("PRYV_CORE CRITICAL - core answered 502 HTML page '502 Bad Gateway' | time=")
    up = core(sandbox, "healthmetrics01-hosting1", files["hosting1"], "--write")
    assert up.returncode == 0, up.stdout
    assert "; event written and read back |" in up.stdout

    # a second run reuses both accounts and leaves the token files alone
    sandbox.set_faults(**{"core-down": "none"})
    again = setup_all(sandbox, tmp_path / "pryv.token")
    assert again.returncode == 0, again.stderr
    for hosting, path in files.items():
        assert "token unchanged in %s" % path in again.stderr
        assert "register: account healthmetrics01-%s exists" % hosting in again.stderr


def test_all_hostings_reports_a_hosting_closed_to_new_accounts(sandbox, tmp_path):
    result = setup_all(sandbox, tmp_path / "token")
    assert result.returncode == 0, result.stderr
    assert ("hosting hosting2 not used: not available for new accounts, and no account healthmetrics01-hosting2 "
            "on it") in result.stderr.splitlines()
    assert result.stderr.splitlines()[-1].strip() == PASTE % ("hosting1", "hosting1", tmp_path / "token-hosting1")
    assert not (tmp_path / "token-hosting2").exists()


def test_all_hostings_keeps_an_existing_account_of_a_closed_hosting(sandbox, tmp_path):
    sandbox.set_faults(hostings="all-available")
    assert setup_all(sandbox, tmp_path / "token").returncode == 0
    sandbox.set_faults(hostings="none-available")
    result = setup_all(sandbox, tmp_path / "token")
    assert result.returncode == 0, result.stderr
    assert [line.strip() for line in result.stderr.splitlines()][-2:] == [
        PASTE % (h, h, tmp_path / ("token-" + h)) for h in ("hosting1", "hosting2")]


def test_all_hostings_dnsless_has_one_core(sandbox, tmp_path):
    """open-pryv.io v2 DNS-less lists one hosting, `default`; its accounts live on the sandbox's first core."""
    result = setup_all(sandbox, tmp_path / "token", "--email", "ops@example.com", mode=dnsless_args)
    assert result.returncode == 0, result.stderr
    assert sandbox._users["healthmetrics01-default"]["email"] == "ops+default@example.com"  # one address each
    assert result.stderr.splitlines()[-1].strip() == PASTE % ("default", "default", tmp_path / "token-default")
    checked = core(sandbox, "healthmetrics01-default", tmp_path / "token-default", "--write", mode=dnsless_args)
    assert checked.returncode == 0, checked.stdout
    sandbox.set_faults(**{"core-down": "hosting1"})
    assert core(sandbox, "healthmetrics01-default", tmp_path / "token-default", mode=dnsless_args).returncode == 2


def test_all_hostings_a_refused_hosting_is_reported_and_the_others_kept(sandbox, tmp_path):
    sandbox.set_faults(hostings="all-available")
    # hosting1's account exists already, with another password: its sign-in is refused
    sandbox._add_user("healthmetrics01-hosting1", "another-password", "someone@pryv.test", "en")
    result = setup_all(sandbox, tmp_path / "token")
    assert result.returncode == 1, result.stderr
    assert ("hosting hosting1 not used: account healthmetrics01-hosting1 exists but refuses this password (401 "
            "invalid-credentials: The given username/password pair is invalid): give its password with "
            "--password-file or PRYV_PASSWORD") in result.stderr.splitlines()
    assert result.stderr.splitlines()[-1].strip() == PASTE % ("hosting2", "hosting2", tmp_path / "token-hosting2")
    assert PASSWORD not in result.stderr + result.stdout


def test_all_hostings_never_reads_nor_writes_a_token_file_through_a_link(sandbox, tmp_path):
    """The per-hosting files are named by the command, not given: they get the same care as --token-file."""
    victim, link = tmp_path / "victim", tmp_path / "token-hosting1"
    victim.write_text("the victim's content\n")
    link.symlink_to(victim)
    for extra in ([], ["--force"]):
        result = setup_all(sandbox, tmp_path / "token", *extra)
        assert result.returncode == 1, result.stderr
        assert "hosting hosting1 not used: cannot read %s: it is a symbolic link" % link in result.stderr.splitlines()
        assert link.is_symlink() and victim.read_text() == "the victim's content\n"


def test_all_hostings_needs_a_token_file(sandbox):
    result = run_plugin("check_pryv_setup", *dns_mode_args(sandbox), "--all-hostings", env={"PRYV_PASSWORD": PASSWORD})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == ("check_pryv_setup: error: --all-hostings needs --token-file PATH: each "
                                              "hosting's token goes to a file named after PATH")


@pytest.mark.parametrize("hosting, username, token_file", [
    ("hosting1", "healthmetrics01-hosting1", "/t/pryv-hosting1.token"),
    ("pilot.ch-1", "healthmetrics01-pilot-ch-1-c2e50c", "/t/pryv-pilot-ch-1-c2e50c.token"),
    ("pilot-ch-1", "healthmetrics01-pilot-ch-1", "/t/pryv-pilot-ch-1.token"),
    ("Zurich", "healthmetrics01-zurich-1e73b1", "/t/pryv-zurich-1e73b1.token"),
    ("x" * 70, "healthmetrics01-" + "x" * 37 + "-c71bd1", "/t/pryv-" + "x" * 37 + "-c71bd1.token"),
])
def test_hosting_account_names_follow_pryv_username_rules(hosting, username, token_file):
    args = argparse.Namespace(username="healthmetrics01", token_file="/t/pryv.token",
                                        email="healthmetrics01@pryv.test")
    assert steps.hosting_account(args, hosting) == (username, token_file, username + "@pryv.test")
    assert USERNAME_RULE.fullmatch(username) and len(username) <= 60
