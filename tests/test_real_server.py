"""The plugins and check_pryv_setup against the real Pryv.io server (open-pryv.io v2), DNS-less, over HTTPS through
nginx's TLS front with --ca-cert: each case asserts the exit code and the words an operator reads."""
import os
import re
import time

import pytest

from conftest import run_plugin

USER = "healthmatrix01"  # this module's own account: other modules share the session's server
GONE_USER = "healthgone01"  # made, then deleted through the admin API
PASSWORD = "matrix-pass-1"  # a throwaway account on a throwaway platform
API = r"2\.0\.0-pre\.4"
TIME = r"\d+\.\d{3}s"
PERF_TIME = r"time=\d+\.?\d*s;;;0;10$"
CORE_PERF = r"clock_skew=-?\d+\.?\d*s " + PERF_TIME


def setup(rs, token_file, *extra, username=USER, password=PASSWORD):
    return run_plugin("check_pryv_setup", *rs.dnsless_args(), "--username", username, "--token-file",
                      str(token_file), *extra, env={"PRYV_PASSWORD": password}, timeout=60)


def register(rs, *extra, username=USER):
    return run_plugin("check_pryv_register", *rs.dnsless_args(), "--username", username, *extra)


def core(rs, token_file, *extra, username=USER):
    return run_plugin("check_pryv_core", *rs.dnsless_args(), "--username", username, "--token-file",
                      str(token_file), *extra)


def first_line(result):
    return result.stdout.splitlines()[0] if result.stdout else ""


def assert_line(result, code, pattern):
    assert result.returncode == code, result.stdout + result.stderr
    assert re.match(pattern, first_line(result)), result.stdout


@pytest.fixture(scope="module")
def health(real_server, tmp_path_factory):
    """check_pryv_setup's first run on the fresh platform: (its result, the token file)."""
    token_file = tmp_path_factory.mktemp("real-server") / "health.token"
    return setup(real_server, token_file), token_file


def shared_accesses(rs):
    session = rs.sign_in(USER, PASSWORD)
    answer = rs.request("GET", USER + "/accesses", headers={"Authorization": session})
    assert answer.status_code == 200, answer.text
    return sorted((a["id"], a["name"], a["token"]) for a in answer.json()["accesses"] if a["type"] == "shared")


# ---- check_pryv_setup

def test_setup_creates_the_account_access_and_token_file(real_server, health):
    result, token_file = health
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines()[:5] == [
        "register: account %s created" % USER,
        "core: signed in as %s (Origin https://127.0.0.1)" % USER,
        'core: access "metricsAccess" created (manage on *, no expiry)',
        "core: token verified (access-info, events?limit=1)",
        "token written to %s (mode 0600)" % token_file]
    assert os.stat(token_file).st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    info = real_server.request("GET", USER + "/access-info", headers={"Authorization": token})
    assert (info.status_code, info.json()["name"], info.json()["type"]) == (200, "metricsAccess", "shared")
    assert token not in result.stderr


def test_setup_second_run_gives_the_same_token_and_changes_nothing(real_server, health):
    token_file = health[1]
    token, before = token_file.read_text(), shared_accesses(real_server)
    mtime = os.stat(token_file).st_mtime_ns
    result = setup(real_server, token_file)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:5] == [
        "register: account %s exists" % USER,
        "core: signed in as %s (Origin https://127.0.0.1)" % USER,
        'core: access "metricsAccess" already exists: reusing its token',
        "core: token verified (access-info, events?limit=1)",
        "token unchanged in %s (mode 0600)" % token_file]
    assert (token_file.read_text(), os.stat(token_file).st_mtime_ns) == (token, mtime)
    assert shared_accesses(real_server) == before
    assert [name for _, name, _ in before] == ["metricsAccess"]


def test_setup_untrusted_origin_exits_1_and_says_so(real_server, health, tmp_path):
    result = setup(real_server, tmp_path / "token", "--origin", real_server.untrusted_origin)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "check_pryv_setup: error: the platform does not trust the sign-in of app id 'pryv-metrics' from Origin "
        "%s (401 invalid-credentials: The app id (\"appId\") is either missing or not trusted). Give --origin an "
        "origin that the core's auth.trustedApps setting accepts, or add pryv-metrics@%s to it"
        % (real_server.untrusted_origin, real_server.untrusted_origin))
    assert not (tmp_path / "token").exists()


def test_setup_wrong_password_exits_1_and_says_so(real_server, health, tmp_path):
    # no 8 characters of the password in the message: they would be hidden
    result = setup(real_server, tmp_path / "token", password="not-the-right-one")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "check_pryv_setup: error: account %s exists but refuses this password (401 invalid-credentials: The given "
        "username/password pair is invalid): give its password with --password-file or PRYV_PASSWORD" % USER)
    assert "not-the-right-one" not in result.stderr


def test_setup_refused_field_shows_the_platform_words(real_server, tmp_path):
    result = setup(real_server, tmp_path / "token", "--app-id", "short", username="healthrefused01")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "check_pryv_setup: error: account creation refused: app id 'short' is refused: give another --app-id "
        "(400 invalid-parameters-format: The parameters' format is invalid - appId: appid-invalid (Invalid app Id))")


# ---- check_pryv_register

# A reused access must serve the checks: the server's own answers (GET /accesses, stream permissions) decide.
PERM_USER = "healthperm01"


@pytest.fixture(scope="module")
def perm_session(real_server, tmp_path_factory):
    """An account of its own (its streams change here), and its owner's session."""
    made = setup(real_server, tmp_path_factory.mktemp("perm") / "token", username=PERM_USER)
    assert made.returncode == 0, made.stderr
    return real_server.sign_in(PERM_USER, PASSWORD)


def owner_call(rs, session, method, path, body):
    answer = rs.request(method, PERM_USER + "/" + path, headers={"Authorization": session}, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def reuse(rs, token_file, name):
    return setup(rs, token_file, "--access-name", name, username=PERM_USER)


def test_setup_refuses_an_existing_access_that_cannot_write(real_server, perm_session, tmp_path):
    owner_call(real_server, perm_session, "POST", "streams", {"id": "diary", "name": "Diary"})
    made = owner_call(real_server, perm_session, "POST", "accesses",
                      {"name": "readDiary", "permissions": [{"streamId": "diary", "level": "read"}]})
    result = reuse(real_server, tmp_path / "token", "readDiary")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        'check_pryv_setup: error: core: the existing access "readDiary" cannot serve check_pryv_core: it has read on '
        "diary, and check_pryv_core --write needs contribute or manage on the stream check-pryv (this command "
        "creates the access with manage on *). Nothing was changed: delete the access in the app and run this "
        "command again, or run it with another --access-name")
    assert not (tmp_path / "token").exists()
    (tmp_path / "read.token").write_text(made["access"]["token"])
    assert_line(core(real_server, tmp_path / "read.token", "--write", username=PERM_USER), 2,
                r"PRYV_CORE CRITICAL - events answered 200 .*creating the stream refused: 403 forbidden")


def test_setup_reuses_an_access_on_the_check_stream_once_the_stream_exists(real_server, perm_session, tmp_path):
    made = owner_call(real_server, perm_session, "POST", "accesses",
                      {"name": "onCheckStream", "permissions": [{"streamId": "check-pryv", "level": "contribute"}]})
    missing = reuse(real_server, tmp_path / "token", "onCheckStream")
    assert missing.returncode == 1, missing.stderr
    assert ("it has contribute on check-pryv, and the stream check-pryv does not exist: check_pryv_core --write's "
            "first run would create it, which needs manage on *. Nothing was changed") in missing.stderr
    owner_call(real_server, perm_session, "POST", "streams", {"id": "check-pryv", "name": "check_pryv"})
    reused = reuse(real_server, tmp_path / "token", "onCheckStream")
    assert reused.returncode == 0, reused.stderr
    assert (tmp_path / "token").read_text() == made["access"]["token"] + "\n"
    core(real_server, tmp_path / "token", "--write", username=PERM_USER)  # the stream is empty: its event is made
    assert_line(core(real_server, tmp_path / "token", "--write", username=PERM_USER), 0,
                r"PRYV_CORE OK - events answered 200 .*; event written and read back \| ")


def test_setup_never_hands_out_an_app_access_of_the_same_name(real_server, perm_session, tmp_path):
    app = owner_call(real_server, perm_session, "POST", "accesses",
                     {"name": "healthShared", "type": "app", "permissions": [{"streamId": "*", "level": "manage"}]})
    first = reuse(real_server, tmp_path / "first", "healthShared")
    again = reuse(real_server, tmp_path / "again", "healthShared")
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert 'core: access "healthShared" already exists: reusing its token' in again.stderr
    tokens = {(tmp_path / name).read_text() for name in ("first", "again")}
    assert len(tokens) == 1 and app["access"]["token"] + "\n" not in tokens


def test_register_knows_the_account(real_server, health):
    assert_line(register(real_server), 0,
                r"PRYV_REGISTER OK - register knows %s \(200 in %s\); database answers \| %s" % (USER, TIME, PERF_TIME))


def test_register_hostings(real_server):
    assert_line(register(real_server, "--hostings"), 0,
                r"PRYV_REGISTER OK - 1 of 1 hosting available \| hostings_available=1;1:;1:;0;1 hostings_total=1;;;0 "
                + PERF_TIME)


def test_register_service_info(real_server):
    assert_line(register(real_server, "--service-info"), 0,
                r"PRYV_REGISTER OK - service info of 'check_pryv real-server tests' \(version %s\) matches "
                r"127\.0\.0\.1 \| %s" % (API, PERF_TIME))


def test_certificate_days_judge_nginx_certificate(real_server, health):
    days = r"(19\.9|20\.0)"  # CERT_DAYS, less the time since the start
    date = real_server.cert_not_after.strftime("%Y-%m-%d")
    lead = r"certificate of 127\.0\.0\.1 valid for %s days \(until %s\)" % (days, date)
    assert_line(register(real_server, "--certificate-days", "10,5"), 0,
                r"PRYV_REGISTER OK - %s; register knows %s \(200 in %s\); database answers \| certificate_days=%s;10:;5: %s"
                % (lead, USER, TIME, days, PERF_TIME))
    assert_line(register(real_server, "--certificate-days", "30,10"), 1,
                r"PRYV_REGISTER WARNING - %s; register knows %s \(200 in %s\) \| certificate_days=%s;30:;10: "
                % (lead, USER, TIME, days))
    assert_line(core(real_server, health[1], "--certificate-days", "60,30"), 2,
                r"PRYV_CORE CRITICAL - %s; events answered 200 in %s \(API %s\) \| certificate_days=%s;60:;30: "
                % (lead, TIME, API, days))


# ---- check_pryv_core

def test_core_ok(real_server, health):
    assert_line(core(real_server, health[1]), 0,
                r"PRYV_CORE OK - events answered 200 in %s \(API %s\) \| %s" % (TIME, API, CORE_PERF))


def test_core_wrong_token_is_critical(real_server, health, tmp_path):
    wrong = tmp_path / "wrong.token"
    wrong.write_text("ckwrongtoken0000000000000\n")
    result = core(real_server, wrong)
    assert_line(result, 2, r"PRYV_CORE CRITICAL - access token rejected \(403 invalid-access-token\): Cannot find "
                           r"access from token \| " + CORE_PERF)
    assert "ckwrongtoken" not in result.stdout + result.stderr


def test_core_expired_access_is_critical(real_server, health, tmp_path):
    session = real_server.sign_in(USER, PASSWORD)
    answer = real_server.request("POST", USER + "/accesses", headers={"Authorization": session},
                                 json={"name": "expiring", "permissions": [{"streamId": "*", "level": "read"}],
                                       "expireAfter": 1})
    assert answer.status_code == 201, answer.text
    expiring = tmp_path / "expiring.token"
    expiring.write_text(answer.json()["access"]["token"])
    time.sleep(max(0.0, answer.json()["access"]["expires"] - answer.json()["meta"]["serverTime"]) + 1)
    assert_line(core(real_server, expiring), 2,
                r"PRYV_CORE CRITICAL - access forbidden \(403 forbidden\): Access has expired \| " + CORE_PERF)


def test_core_expect_api_version_both_ways(real_server, health):
    assert_line(core(real_server, health[1], "--expect-api-version", "2.0"), 0,
                r"PRYV_CORE OK - events answered 200 in %s \(API %s\) \| " % (TIME, API))
    for prefix in ("1.9", "0.0-pre"):  # another version, or one found inside the version but not at its start
        assert_line(core(real_server, health[1], "--expect-api-version", prefix), 1,
                    r"PRYV_CORE WARNING - events answered 200 in %s \(API %s\); core reports API 2\.0\.0-pre\.4, "
                    r"expected %s \| " % (TIME, API, re.escape(prefix)))


# ---- the account deleted, the backend stopped

def test_account_deleted_through_admin_api(real_server, tmp_path):
    token_file = tmp_path / "gone.token"
    made = setup(real_server, token_file, username=GONE_USER)
    assert made.returncode == 0, made.stderr
    assert_line(core(real_server, token_file, username=GONE_USER), 0, r"PRYV_CORE OK - ")
    deleted = real_server.delete_user(GONE_USER)
    assert deleted.status_code == 200, deleted.text
    assert_line(register(real_server, username=GONE_USER), 1,
                r"PRYV_REGISTER WARNING - register answers but no longer knows %s \(reserved: false\) \| %s"
                % (GONE_USER, PERF_TIME))
    assert_line(core(real_server, token_file, username=GONE_USER), 2,
                r'PRYV_CORE CRITICAL - unknown user \(404 unknown-resource\): Unknown user "%s" \| ' % GONE_USER)


def test_backend_stopped_behind_nginx_is_critical_502(real_server, health):
    real_server.stop_backend()
    try:
        assert_line(register(real_server), 2,
                    r"PRYV_REGISTER CRITICAL - register answered 502 HTML page '502 Bad Gateway' \| " + PERF_TIME)
        assert_line(core(real_server, health[1]), 2,
                    r"PRYV_CORE CRITICAL - core answered 502 HTML page '502 Bad Gateway' \| " + PERF_TIME)
    finally:
        real_server.start_backend()
    assert_line(core(real_server, health[1]), 0, r"PRYV_CORE OK - ")


# ---- DNS mode: the server's own DNS code beside the core; nginx routes DNS mode's host names (tests/realserver.py)

def dns(real_dns, username):
    return run_plugin("check_pryv_dns", "--domain", real_dns.domain, "--username", username, "--server", "127.0.0.1",
                      "--port", str(real_dns.port))


def test_dns_mode_dns_answers_the_health_account(real_dns, health):
    assert_line(dns(real_dns, USER), 0,
                r"PRYV_DNS OK - %s\.pryv\.test is 127\.0\.0\.1 \(127\.0\.0\.1 in %s\) \| %s" % (USER, TIME, PERF_TIME))


def test_dns_mode_dns_unknown_user_is_critical(real_dns):
    assert_line(dns(real_dns, "nobody-here01"), 2,
                r"PRYV_DNS CRITICAL - nobody-here01\.pryv\.test does not exist \(NXDOMAIN from 127\.0\.0\.1\) \| ")


def test_dns_mode_register_and_core(real_server, health):
    assert_line(run_plugin("check_pryv_register", *real_server.dns_mode_args(), "--username", USER), 0,
                r"PRYV_REGISTER OK - register knows %s \(200 in %s\); database answers \| %s" % (USER, TIME, PERF_TIME))
    assert_line(run_plugin("check_pryv_core", *real_server.dns_mode_args(), "--username", USER,
                           "--token-file", str(health[1])), 0,
                r"PRYV_CORE OK - events answered 200 in %s \(API %s\) \| %s" % (TIME, API, CORE_PERF))
