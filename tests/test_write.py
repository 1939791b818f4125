"""check_pryv_core --write against the sandbox, over real sockets: the write path round-trips, nothing grows, and
each way it can fail (a read-only storage, lost writes, an event deleted or trashed by someone, an access that
may not write) says so in one line with the right state."""
import re

import pytest
import requests

from conftest import dns_mode_args, dnsless_args, run_plugin

STREAM = "check-pryv"
PERF = (r"clock_skew=-?\d+\.?\d*s read_time=\d+\.?\d*s;;;0 time=\d+\.?\d*s;;;0;10 "
        r"write_time=\d+\.?\d*s;;;0$")
EVENTS = r"PRYV_CORE %s - events answered 200 in \d\.\d{3}s \(API 1\.9\.3-open\); "


def write(sb, *extra, mode=dnsless_args, token_file=None):
    return run_plugin("check_pryv_core", *mode(sb), "--token-file", token_file or sb.token_file, "--write", *extra)


def first_line(result):
    return result.stdout.splitlines()[0]


def stream_events(sb, stream=STREAM):
    """Every event of the stream, trashed ones included, as the sandbox holds them."""
    return [e for e in sb._users[sb.username]["events"] if stream in e["streamIds"]]


def core_api(sb, method, path, **kwargs):
    """A call to the health account's core with its token, as someone using the API would make it."""
    url = "https://127.0.0.1:%d/%s/%s" % (sb.http_port, sb.username, path)
    session = requests.Session()
    session.trust_env = False
    return session.request(method, url, headers={"Authorization": sb.token}, verify=sb.ca_file, timeout=10,
                           **kwargs)


@pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_write_first_run_creates_then_updates_one_event(sandbox, mode):
    result = write(sandbox, mode=mode)
    assert result.returncode == 0, result.stdout
    assert re.fullmatch(EVENTS % "OK" + "first run: stream check-pryv and its event "
                        r"created, read back \| " + PERF, first_line(result)), result.stdout
    created = stream_events(sandbox)
    for _ in range(5):
        result = write(sandbox, mode=mode)
        assert result.returncode == 0, result.stdout
        assert re.fullmatch(EVENTS % "OK" + r"event written and read back \| " + PERF,
                            first_line(result)), result.stdout
    events = stream_events(sandbox)
    assert len(events) == 1 and events[0]["id"] == created[0]["id"]
    assert re.fullmatch(r"check_pryv \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [0-9a-f]{8}", events[0]["content"])
    assert list(sandbox._users[sandbox.username]["streams"]) == [STREAM]


def test_write_verbose_lists_each_call_and_never_the_token(sandbox):
    write(sandbox)
    result = write(sandbox, "-vvv")
    assert result.returncode == 0, result.stdout
    event_id = stream_events(sandbox)[0]["id"]
    calls = [line for line in result.stdout.splitlines() if line.startswith("write path: ")]
    assert [re.sub(r" in \d\.\d{3}s$", "", line) for line in calls] == [
        "write path: GET /events -> 200", "write path: PUT /events/%s -> 200" % event_id,
        "write path: GET /events/%s -> 200" % event_id]
    assert sandbox.token not in result.stdout + result.stderr


def test_write_refused_by_a_read_only_storage_is_critical(sandbox):
    write(sandbox)
    sandbox.set_faults(storage="read-only")
    result = write(sandbox)
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + 'updating the event refused: 500 unexpected-error: Error from data '
                        r'store "local": Unexpected error: cannot execute UPDATE in a read-only transaction \| '
                        r"clock_skew=-?\d+\.?\d*s time=\S+ write_time=\d+\.?\d*s;;;0", first_line(result)), \
        result.stdout


def test_write_on_first_run_refused_by_a_read_only_storage_is_critical(sandbox):
    sandbox.set_faults(storage="read-only")
    result = write(sandbox)
    assert result.returncode == 2, result.stdout
    assert ("; creating the stream refused: 500 unexpected-error: Unexpected error: cannot execute INSERT in a "
            "read-only transaction |") in first_line(result), result.stdout
    assert stream_events(sandbox) == []


def test_write_lost_by_the_storage_is_critical(sandbox):
    write(sandbox)
    kept = stream_events(sandbox)[0]["content"]
    sandbox.set_faults(storage="loses-writes")
    result = write(sandbox)
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + r"read-back differs: wrote 'check_pryv "
                        r"\S+ [0-9a-f]{8}', read '%s' \| " % re.escape(kept) + PERF, first_line(result)), result.stdout


def test_write_event_deleted_by_someone_is_created_again_and_said(sandbox):
    write(sandbox)
    event_id = stream_events(sandbox)[0]["id"]
    assert core_api(sandbox, "DELETE", "events/" + event_id).json()["event"]["trashed"] is True
    assert core_api(sandbox, "DELETE", "events/" + event_id).json()["eventDeletion"] == {"id": event_id}
    result = write(sandbox)
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + "the event of stream check-pryv was "
                        r"deleted by someone: created again \| " + PERF, first_line(result)), result.stdout
    assert len(stream_events(sandbox)) == 1
    result = write(sandbox)
    assert result.returncode == 0, result.stdout
    assert "; event written and read back |" in first_line(result)


def test_write_event_trashed_by_someone_is_restored_and_said(sandbox):
    write(sandbox)
    event_id = stream_events(sandbox)[0]["id"]
    assert core_api(sandbox, "DELETE", "events/" + event_id).status_code == 200
    result = write(sandbox, mode=dns_mode_args)
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + "the event of stream check-pryv was "
                        r"trashed by someone: restored \| " + PERF, first_line(result)), result.stdout
    events = stream_events(sandbox)
    assert [e["id"] for e in events] == [event_id] and "trashed" not in events[0]
    assert write(sandbox).returncode == 0


def test_write_event_deleted_between_the_find_and_the_update_is_critical(sandbox):
    """open-pryv.io v2 answers GET /events/ID of a deleted event with its tombstone, `{"id", "deleted"}`."""
    write(sandbox)
    event = stream_events(sandbox)[0]
    sandbox._users[sandbox.username]["deletions"] = {event["id"]: 1.0}  # deleted for good, after the find
    result = write(sandbox)
    assert result.returncode == 2, result.stdout
    assert "; updating the event refused: 500 unexpected-error: Unexpected error: Cannot read properties of " \
           "undefined (reading 'length') |" in first_line(result), result.stdout


def test_write_with_a_read_only_access_is_critical(sandbox, tmp_path):
    user = sandbox._users[sandbox.username]
    reader = sandbox._add_access(user, "shared", "reader", [{"streamId": "*", "level": "read"}], "system")
    token_file = tmp_path / "reader-token"
    token_file.write_text(reader["token"])
    result = write(sandbox, token_file=str(token_file))
    assert result.returncode == 2, result.stdout
    assert ("; creating the stream refused: 403 forbidden: The given token's access permissions do not allow "
            "this operation |") in first_line(result), result.stdout


def test_write_another_stream(sandbox):
    result = write(sandbox, "--write-stream", "monitoring-1")
    assert result.returncode == 0, result.stdout
    assert "; first run: stream monitoring-1 and its event created, read back |" in first_line(result)
    assert len(stream_events(sandbox, "monitoring-1")) == 1 and stream_events(sandbox) == []


def test_write_time_judged_by_write_thresholds(sandbox):
    write(sandbox)
    sandbox.set_faults(delay=0.3)
    result = write(sandbox, "--write-warning", "0.1", "--write-critical", "5")
    assert result.returncode == 1, result.stdout
    assert re.fullmatch(EVENTS % "WARNING" + r"write time 0\.\d{3}s over 0\.1s \| "
                        + PERF.replace(";;;0$", ";0.1;5;0$"), first_line(result)), result.stdout


def test_write_not_tried_when_the_core_is_down(sandbox):
    sandbox.set_faults(core="down")
    result = write(sandbox)
    assert result.returncode == 2, result.stdout
    assert first_line(result) == "PRYV_CORE CRITICAL - core answered 502 HTML page '502 Bad Gateway' | " \
                                 + re.search(r"time=\S+$", first_line(result)).group(0)
    assert "write_time" not in result.stdout


@pytest.mark.parametrize("stream", ["Check", "x_y", "a/b", "x" * 101])
def test_write_stream_must_be_a_plain_id(stream):
    result = run_plugin("check_pryv_core", "--hostname", "localhost", "--write", "--write-stream", stream)
    assert result.returncode == 3, result.stdout
    assert result.stdout == ("PRYV_CORE UNKNOWN - argument --write-stream: invalid stream id %r: lower-case "
                             "letters, digits and '-', up to 100 (see --help)\n" % stream)


def test_write_help_says_what_the_access_needs():
    result = run_plugin("check_pryv_core", "--help")
    text = " ".join(result.stdout.split())
    assert "The access needs contribute or manage on that stream" in text
    assert "--write-warning RANGE" in text and "--write-critical RANGE" in text
