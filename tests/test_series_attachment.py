"""check_pryv_core --series (the HFS) and --attachment (the file storage) against the sandbox, over real sockets, in
both modes: they round-trip and nothing grows, they combine with --write in one run (each with its -v lines), and
each way they fail (a hung HFS worker, a dead one, the file storage gone, an event trashed by someone) is CRITICAL in
one line while the default check stays OK, without ever showing the access token or a read token."""
import base64
import email.parser
import email.policy
import hashlib
import re
import socket
import time

import pytest
import requests

from conftest import dns_mode_args, dnsless_args, run_plugin
from faultservers import HTTPFault, http_response, json_answer

EVENTS = r"PRYV_CORE %s - events answered 200 in \d\.\d{3}s \(API 1\.9\.3-open\); "
NUMBER = r"\d+\.?\d*"


def core(sb, *extra, mode=dnsless_args):
    return run_plugin("check_pryv_core", *mode(sb), "--token-file", sb.token_file, *extra)


def first_line(result):
    return result.stdout.splitlines()[0]


def stream_events(sb, kind):
    return [e for e in sb._users[sb.username]["events"] if "check-pryv" in e["streamIds"] and e["type"] == kind]


def read_tokens(sb):
    return [a["readToken"] for e in sb._users[sb.username]["events"] for a in e.get("attachments", [])]


@pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_series_and_attachment_round_trip_and_nothing_grows(sandbox, mode):
    result = core(sandbox, "--series", "--attachment", mode=mode)
    assert result.returncode == 0, result.stdout
    assert re.fullmatch(EVENTS % "OK" + r"series: event created in stream check-pryv, point read back; attachment "
                        r"read back \| attachment_time=%ss;;;0 clock_skew=-?%ss series_time=%ss;;;0 "
                        r"time=%ss;;;0;10" % (NUMBER, NUMBER, NUMBER, NUMBER), first_line(result)), result.stdout
    series, = stream_events(sandbox, "series:mass/kg")
    note, = stream_events(sandbox, "note/txt")
    values = set()
    for _ in range(4):
        result = core(sandbox, "--series", "--attachment", mode=mode)
        assert result.returncode == 0, result.stdout
        assert re.match(EVENTS % "OK" + r"series point read back; attachment read back \| ", first_line(result))
        points = sandbox._users[sandbox.username]["series"][series["id"]]
        assert list(points) == [0]  # the point at deltaTime 0, rewritten
        values.add(points[0])
        assert len(note["attachments"]) == 1  # the previous one removed
    assert len(values) == 4  # a fresh value each run
    assert [stream_events(sandbox, kind) for kind in ("series:mass/kg", "note/txt")] == [[series], [note]]
    assert note["attachments"][0]["fileName"] == "check_pryv.txt"
    assert re.fullmatch(rb"check_pryv \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [0-9a-f]{16}\n",
                        sandbox._users[sandbox.username]["files"][note["attachments"][0]["id"]])


def test_all_parts_combine_in_one_run_each_with_its_lines(sandbox):
    core(sandbox, "--write", "--series", "--attachment")
    previous = stream_events(sandbox, "note/txt")[0]["attachments"][0]["id"]
    result = core(sandbox, "--write", "--series", "--attachment", "-v")
    assert result.returncode == 0, result.stdout
    assert re.fullmatch(EVENTS % "OK" + "event written and read back; series point read back; attachment read back",
                        first_line(result)), result.stdout
    series, = stream_events(sandbox, "series:mass/kg")
    note, = stream_events(sandbox, "note/txt")
    parts = [re.sub(r" in \d\.\d{3}s$", "", line) for line in result.stdout.splitlines()
             if line.startswith(("write path: ", "series: ", "attachment: "))]
    assert parts == [
        "write path: GET /events -> 200", "write path: PUT /events/%s -> 200" % note["id"],
        "write path: GET /events/%s -> 200" % note["id"],
        "series: GET /events -> 200", "series: POST /events/%s/series -> 200" % series["id"],
        "series: GET /events/%s/series -> 200" % series["id"],
        "attachment: GET /events -> 200", "attachment: POST /events/%s -> 200" % note["id"],
        "attachment: GET /events/%s/%s -> 200" % (note["id"], note["attachments"][0]["id"]),
        "attachment: DELETE /events/%s/%s -> 200" % (note["id"], previous),
    ]
    assert re.fullmatch(r"\| attachment_time=\S+ clock_skew=\S+ read_time=\S+ series_time=\S+ time=\S+ write_time=\S+",
                        result.stdout.splitlines()[-1])


def test_a_stream_made_by_the_series_path_holds_the_write_paths_event_too(sandbox):
    """--write, enabled after --series made the stream, finds its event: not one that someone deleted."""
    assert core(sandbox, "--series").returncode == 0
    note, = stream_events(sandbox, "note/txt")
    result = core(sandbox, "--write")
    assert result.returncode == 0, result.stdout
    assert re.match(EVENTS % "OK" + r"event written and read back \| ", first_line(result)), result.stdout
    assert stream_events(sandbox, "note/txt") == [note]


def test_hung_hfs_is_critical_within_the_timeout_naming_the_step(sandbox):
    core(sandbox, "--series", "--attachment")
    sandbox.set_faults(hfs="hung")
    started = time.monotonic()
    result = core(sandbox, "--series", "--attachment", "-t", "3", "-v")
    assert time.monotonic() - started < 3.5
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + r"series: writing the point: no answer from localhost:%d "
                        r"\(127\.0\.0\.1\): timed out after \d\.\ds; attachment: not tried, no time left"
                        % sandbox.http_port,
                        first_line(result)), result.stdout
    assert re.search(r"^series: POST /events/\w+/series -> failed at stage response after \d\.\d{3}s$", result.stdout,
                     re.M), result.stdout
    default = core(sandbox, "-t", "3")
    assert default.returncode == 0 and " OK - " in default.stdout, default.stdout


def test_dead_hfs_is_critical_with_the_proxy_error(sandbox):
    sandbox.set_faults(hfs="dead")
    result = core(sandbox, "--series")
    assert result.returncode == 2, result.stdout
    assert re.match(EVENTS % "CRITICAL" + "series: writing the point refused: 502 unexpected-error: HFS upstream "
                    r"unreachable \| ", first_line(result)), result.stdout
    assert core(sandbox).returncode == 0


def test_file_storage_gone_is_critical_for_the_attachment_only(sandbox):
    core(sandbox, "--series", "--attachment")
    sandbox.set_faults(file_storage="gone")
    result = core(sandbox, "--series", "--attachment")
    assert result.returncode == 2, result.stdout
    assert re.match(EVENTS % "CRITICAL" + r"attachment: upload refused: 500 unexpected-error: Unexpected error: "
                    "ENOTDIR: not a directory, mkdir '/var/pryv/users/healthmetrics01/attachments/", first_line(result))
    assert core(sandbox).returncode == 0
    assert core(sandbox, "--series").returncode == 0


def test_a_storage_that_loses_writes_is_a_read_back_that_differs(sandbox):
    core(sandbox, "--series", "--attachment")
    before = list(sandbox._users[sandbox.username]["series"].values())[0][0]
    sandbox.set_faults(storage="loses-writes")
    result = core(sandbox, "--series", "--attachment")
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + r"series: read-back differs: wrote %s, read %s; attachment: read-back "
                        r"differs: uploaded 49 bytes, read 0 \| .*" % (NUMBER, re.escape(str(before))),
                        first_line(result)), result.stdout


def test_series_event_trashed_by_someone_is_restored_and_said(sandbox):
    core(sandbox, "--series")
    series, = stream_events(sandbox, "series:mass/kg")
    series["trashed"] = True
    result = core(sandbox, "--series")
    assert result.returncode == 2, result.stdout
    assert re.match(EVENTS % "CRITICAL" + r"series: the event of stream check-pryv was trashed by someone: "
                    r"restored \| ", first_line(result)), result.stdout
    assert "trashed" not in series and core(sandbox, "--series").returncode == 0


def test_attachment_read_with_another_token_is_refused_by_the_platform(sandbox):
    """The read the check makes is the one an app's link makes: a read token of another file does not open it."""
    core(sandbox, "--attachment")
    note, = stream_events(sandbox, "note/txt")
    attachment = note["attachments"][0]
    url = "https://127.0.0.1:%d/%s/events/%s/%s" % (sandbox.http_port, sandbox.username, note["id"], attachment["id"])
    good = requests.get(url, params={"readToken": attachment["readToken"]}, verify=sandbox.ca_file, timeout=10)
    assert good.status_code == 200 and good.content.startswith(b"check_pryv ")
    other = sandbox._read_token(sandbox._users[sandbox.username]["accesses"][0], "another-file")
    bad = requests.get(url, params={"readToken": other}, verify=sandbox.ca_file, timeout=10)
    assert (bad.status_code, bad.json()["error"]["id"]) == (401, "invalid-access-token")


@pytest.mark.parametrize("fault", [{"hfs": "hung"}, {"hfs": "dead"}, {"file_storage": "gone"}, {"token": "rejected"},
                                   {"storage": "read-only"}])
def test_new_failures_show_no_token_nor_read_token_at_any_verbosity(sandbox, fault):
    core(sandbox, "--write", "--series", "--attachment")
    tokens = [sandbox.token, *read_tokens(sandbox)]
    assert len(tokens) == 2
    sandbox.set_faults(**fault)
    result = core(sandbox, "--write", "--series", "--attachment", "-vvv", "-t", "3")
    assert result.returncode == 2, result.stdout
    for token in tokens:
        assert token not in result.stdout + result.stderr


READ_TOKEN = "readaccess01-" + "Rt5x" * 7  # what the echoing core below gives as the attachment's read token


def echoing_core(conn):
    """A core that takes the attachment path's calls, then answers the read as Express does a route it lacks:
    404 `Cannot GET URL`, the URL with its query, read token included."""
    head = conn.read_request()
    top, _, body = head.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", top)
    while length and len(body) < int(length.group(1)):
        body += conn.sock.recv(65536)
    method, target = top.split(b" ")[:2]
    event = {"id": "evt1", "streamIds": ["check-pryv"], "type": "note/txt", "content": "x"}
    if method == b"GET" and b"/events?limit=1" in target:
        reply = json_answer(200, {"events": [], "meta": {"apiVersion": "1.9.3-open", "serverTime": time.time()}})
    elif method == b"GET" and b"/events?" in target:
        reply = json_answer(200, {"events": [event]})
    elif method == b"POST":
        kind = re.search(rb"(?im)^content-type: *(.+?)\r?$", top).group(1)
        upload = next(part.get_payload(decode=True) for part in email.parser.BytesParser(
            policy=email.policy.HTTP).parsebytes(b"Content-Type: " + kind + b"\r\n\r\n" + body).iter_parts())
        integrity = "sha256-" + base64.b64encode(hashlib.sha256(upload).digest()).decode()
        reply = json_answer(200, {"event": dict(event, attachments=[{
            "id": "file1", "fileName": "check_pryv.txt", "type": "text/plain", "size": len(upload),
            "integrity": integrity, "readToken": READ_TOKEN}])})
    else:
        reply = http_response(404, b"Cannot GET " + target, [("Content-Type", "text/html; charset=utf-8")])
    conn.send(reply)
    conn.sock.shutdown(socket.SHUT_WR)
    conn.hold(5)


def test_a_read_token_echoed_by_the_platform_never_shows():
    with HTTPFault(echoing_core) as server:
        for verbosity in ([], ["-v"], ["-vvv"]):
            result = run_plugin("check_pryv_core", "--hostname", "127.0.0.1", "--port", str(server.port), "--scheme",
                                "http", "--attachment", *verbosity, env={"PRYV_ACCESS_TOKEN": "a-token-for-the-echo"})
            assert result.returncode == 2, result.stdout
            assert re.fullmatch(EVENTS % "CRITICAL" + re.escape(
                "attachment: reading it back with its read token failed: 404 'Cannot GET "
                "/healthmetrics01/events/evt1/file1?readToken=***'") + r"( \| .*)?", first_line(result)), result.stdout
            assert READ_TOKEN not in result.stdout + result.stderr
            assert "Rt5x" not in result.stdout + result.stderr  # nor a part of it
