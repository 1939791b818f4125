"""check_pryv_core --write against the real Pryv.io server (open-pryv.io v2 on PostgreSQL), over HTTPS through
nginx: the value round-trips, the stream keeps one event after 50 runs (trashed ones included), an event trashed
or deleted by someone is restored or created again and said, and a read-only database is a refused write with
the server's own error id and message."""
import json
import re
import subprocess
import time

import pytest

from conftest import run_plugin
from realserver import postgres_bin

USER = "healthwrite01"  # this module's own account: other modules share the session's server
PASSWORD = "write-pass-1"  # a throwaway account on a throwaway platform
STREAM = "check-pryv"
EVENTS = r"PRYV_CORE %s - events answered 200 in \d+\.\d{3}s \(API 2\.0\.0-pre\.4\); "
PERF = (r" \| clock_skew=-?\d+\.?\d*s read_time=\d+\.?\d*s;;;0 time=\d+\.?\d*s;;;0;10 "
        r"write_time=\d+\.?\d*s;;;0$")
RUNS = 50


@pytest.fixture(scope="module")
def writer(real_server, tmp_path_factory):
    """The module's health account, made by check_pryv_setup: its token file."""
    token_file = tmp_path_factory.mktemp("real-write") / "health.token"
    made = run_plugin("check_pryv_setup", *real_server.dnsless_args(), "--username", USER, "--token-file",
                      str(token_file), env={"PRYV_PASSWORD": PASSWORD}, timeout=60)
    assert made.returncode == 0, made.stderr
    return token_file


def write(rs, token_file):
    return run_plugin("check_pryv_core", *rs.dnsless_args(), "--username", USER, "--token-file", str(token_file),
                      "--write")


def first_line(result):
    return result.stdout.splitlines()[0] if result.stdout else ""


def api(rs, token_file, method, path):
    answer = rs.request(method, "%s/%s" % (USER, path), headers={"Authorization": token_file.read_text().strip()})
    assert answer.status_code == 200, answer.text
    return answer.json()


def stream_events(rs, token_file):
    """Every event of the stream, trashed ones included, as the server lists them."""
    query = json.dumps([STREAM], separators=(",", ":"))
    return api(rs, token_file, "GET", "events?streams=%s&state=all&limit=1000" % query)["events"]


def read_only(rs, on):
    """PostgreSQL's default_transaction_read_only for every session, the server's pooled ones included."""
    setting = "ALTER SYSTEM SET default_transaction_read_only = on" if on else \
        "ALTER SYSTEM RESET default_transaction_read_only"
    subprocess.run([postgres_bin("psql"), "-q", "-h", "127.0.0.1", "-p", str(rs.postgres.port), "-U", "pryv", "-d",
                    "pryv", "-c", setting, "-c", "SELECT pg_reload_conf()"], check=True, capture_output=True,
                   timeout=30, stdin=subprocess.DEVNULL)
    time.sleep(0.5)  # each backend rereads its configuration before its next command


def test_write_path_keeps_one_event_after_50_runs(real_server, writer):
    result = write(real_server, writer)
    assert result.returncode == 0, result.stdout
    assert re.match(EVENTS % "OK" + "first run: stream check-pryv and its event created, read back" + PERF,
                    first_line(result)), result.stdout
    event_id = stream_events(real_server, writer)[0]["id"]
    for run in range(1, RUNS):
        if run == 20:  # someone trashes it: restored, not made anew
            assert api(real_server, writer, "DELETE", "events/" + event_id)["event"]["trashed"] is True
        if run == 35:  # someone deletes it for good (trash, then delete): created again
            api(real_server, writer, "DELETE", "events/" + event_id)
            assert api(real_server, writer, "DELETE", "events/" + event_id)["eventDeletion"] == {"id": event_id}
        result = write(real_server, writer)
        if run == 20:
            assert result.returncode == 2, result.stdout
            assert re.match(EVENTS % "CRITICAL" + "the event of stream check-pryv was trashed by someone: restored"
                            + PERF, first_line(result)), result.stdout
        elif run == 35:
            assert result.returncode == 2, result.stdout
            assert re.match(EVENTS % "CRITICAL" + "the event of stream check-pryv was deleted by someone: created "
                            "again" + PERF, first_line(result)), result.stdout
            event_id = stream_events(real_server, writer)[0]["id"]
        else:
            assert result.returncode == 0, (run, result.stdout)
            assert re.match(EVENTS % "OK" + "event written and read back" + PERF, first_line(result)), result.stdout
    events = stream_events(real_server, writer)
    assert [e["id"] for e in events] == [event_id]
    assert "trashed" not in events[0]
    assert re.fullmatch(r"check_pryv \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [0-9a-f]{8}", events[0]["content"])
    streams = [s["id"] for s in api(real_server, writer, "GET", "streams?state=all")["streams"]
               if not s["id"].startswith(":")]
    assert streams == [STREAM]


def test_write_refused_by_a_read_only_database_is_critical(real_server, writer):
    assert write(real_server, writer).returncode in (0, 2)  # the event exists from here on
    read_only(real_server, True)
    try:
        result = write(real_server, writer)
    finally:
        read_only(real_server, False)
    assert result.returncode == 2, result.stdout
    assert re.match(EVENTS % "CRITICAL" + 'updating the event refused: 500 unexpected-error: Error from data store '
                    r'"local": Unexpected error: cannot execute UPDATE in a read-only transaction \| ',
                    first_line(result)), result.stdout
    again = write(real_server, writer)
    assert again.returncode == 0, again.stdout
    assert re.match(EVENTS % "OK" + "event written and read back" + PERF, first_line(again)), again.stdout


def test_all_hostings_prepares_the_one_core_of_a_dnsless_platform(real_server, tmp_path):
    """v2 DNS-less lists one hosting: one account, USERNAME-HOSTING, whose core takes the write path."""
    made = run_plugin("check_pryv_setup", *real_server.dnsless_args(), "--username", "healthcores01", "--all-hostings",
                      "--token-file", str(tmp_path / "pryv.token"), env={"PRYV_PASSWORD": PASSWORD}, timeout=60)
    assert made.returncode == 0, made.stderr
    dictionary = [line.strip() for line in made.stderr.splitlines() if line.strip().startswith("vars.pryv_cores[")]
    hosting = list(real_server.request("GET", "reg/hostings").json()["regions"]["default"]["zones"]["default"]
                   ["hostings"])
    assert len(hosting) == 1 and dictionary == [
        'vars.pryv_cores["%s"] = { username = "healthcores01-%s", token_file = "%s" }'
        % (hosting[0], hosting[0], tmp_path / ("pryv-%s.token" % hosting[0]))]
    checked = run_plugin("check_pryv_core", *real_server.dnsless_args(), "--username", "healthcores01-" + hosting[0],
                         "--token-file", str(tmp_path / ("pryv-%s.token" % hosting[0])), "--write")
    assert checked.returncode == 0, checked.stdout
    assert re.match(EVENTS % "OK" + "first run: stream check-pryv and its event created, read back" + PERF,
                    first_line(checked)), checked.stdout
