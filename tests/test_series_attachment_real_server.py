"""check_pryv_core --series and --attachment against the real Pryv.io server (open-pryv.io v2 with its HFS worker, on
PostgreSQL), over HTTPS through nginx, broken the way production breaks: the HFS worker stopped (SIGSTOP: the series
call hangs) and the user's attachments directory replaced by a file. Each part is then CRITICAL within -t, naming
what failed, while the default check stays OK; 50 runs of every option together keep the check stream bounded; no
output shows the access token or a read token."""
import json
import re
import time

import pytest

from conftest import run_plugin

USER = "healthparts01"  # this module's own account: other modules share the session's server
PASSWORD = "parts-pass-1"  # a throwaway account on a throwaway platform
STREAM = "check-pryv"
EVENTS = r"PRYV_CORE %s - events answered 200 in \d+\.\d{3}s \(API 2\.0\.0-pre\.4\); "
ALL = ("--write", "--series", "--attachment")
RUNS = 50


@pytest.fixture(scope="module")
def health(real_server, tmp_path_factory):
    """The module's health account, made by check_pryv_setup: its token file."""
    token_file = tmp_path_factory.mktemp("real-parts") / "health.token"
    made = run_plugin("check_pryv_setup", *real_server.dnsless_args(), "--username", USER, "--token-file",
                      str(token_file), env={"PRYV_PASSWORD": PASSWORD}, timeout=60)
    assert made.returncode == 0, made.stderr
    return token_file


def core(rs, token_file, *extra, mode="dnsless"):
    args = rs.dnsless_args() if mode == "dnsless" else rs.dns_mode_args()
    return run_plugin("check_pryv_core", *args, "--username", USER, "--token-file", str(token_file), *extra)


def first_line(result):
    return result.stdout.splitlines()[0] if result.stdout else ""


def api(rs, token_file, path):
    answer = rs.request("GET", "%s/%s" % (USER, path), headers={"Authorization": token_file.read_text().strip()})
    assert answer.status_code == 200, answer.text
    return answer.json()


def stream_events(rs, token_file):
    query = json.dumps([STREAM], separators=(",", ":"))
    return api(rs, token_file, "events?streams=%s&state=all&limit=1000" % query)["events"]


def secrets_of(rs, token_file):
    """The access token and the read tokens of the check event's attachments."""
    return [token_file.read_text().strip()] + [a["readToken"] for e in stream_events(rs, token_file)
                                               for a in e.get("attachments", [])]


@pytest.mark.parametrize("mode", ["dnsless", "dns-mode"])
def test_every_part_is_ok_on_a_healthy_platform(real_server, health, mode):
    core(real_server, health, *ALL, mode=mode)
    result = core(real_server, health, *ALL, mode=mode)
    assert result.returncode == 0, result.stdout
    assert re.fullmatch(EVENTS % "OK" + r"event written and read back; series point read back; attachment read back "
                        r"\| attachment_time=\S+ clock_skew=\S+ read_time=\S+ series_time=\S+ time=\S+ write_time=\S+",
                        first_line(result)), result.stdout


def test_stopped_hfs_worker_is_critical_within_the_timeout_while_the_default_check_is_ok(real_server, health):
    core(real_server, health, *ALL)
    with real_server.hfs_stopped():
        started = time.monotonic()
        result = core(real_server, health, *ALL, "-t", "4", "-vvv")
        elapsed = time.monotonic() - started
        default = core(real_server, health, "-t", "4")
        secrets = secrets_of(real_server, health)
    assert elapsed < 4.5, elapsed
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + r"series: writing the point: no answer from 127\.0\.0\.1:%d: timed out "
                        r"after \d\.\ds; attachment: not tried, no time left" % real_server.https_port,
                        first_line(result)), result.stdout
    assert re.search(r"^series: POST /events/\w+/series -> failed at stage response after \d\.\d{3}s$", result.stdout,
                     re.M), result.stdout
    assert default.returncode == 0 and " OK - " in default.stdout, default.stdout
    assert len(secrets) == 2 and not [s for s in secrets if s in result.stdout + result.stderr]
    assert core(real_server, health, "--series").returncode == 0  # back once the worker goes on


def test_attachments_directory_replaced_by_a_file_is_critical_while_the_default_check_is_ok(real_server, health):
    core(real_server, health, *ALL)
    with real_server.attachments_replaced_by_file(USER):
        result = core(real_server, health, *ALL, "-vvv")
        default = core(real_server, health)
        series = core(real_server, health, "--series")
        secrets = secrets_of(real_server, health)
    assert result.returncode == 2, result.stdout
    assert re.match(EVENTS % "CRITICAL" + r"attachment: upload refused: 500 unexpected-error: Unexpected error: "
                    r"ENOTDIR: not a directory, mkdir '", first_line(result)), result.stdout
    assert default.returncode == 0 and series.returncode == 0, default.stdout + series.stdout
    assert len(secrets) == 2 and not [s for s in secrets if s in result.stdout + result.stderr]
    assert core(real_server, health, "--attachment").returncode == 0  # back with the directory


def test_50_runs_of_every_part_keep_the_check_stream_bounded(real_server, health):
    for _ in range(RUNS):
        result = core(real_server, health, *ALL)
        assert result.returncode == 0, result.stdout
    events = stream_events(real_server, health)
    assert sorted(e["type"] for e in events) == ["note/txt", "series:mass/kg"]
    note = next(e for e in events if e["type"] == "note/txt")
    assert len(note["attachments"]) == 1
    series = next(e for e in events if e["type"] != "note/txt")
    points = api(real_server, health, "events/%s/series" % series["id"])["points"]
    assert len(points) == 1 and points[0][0] == 0
