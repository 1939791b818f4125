"""Issue 21, tried as an attacker would, round 3: hostile registers and cores on loopback (tests/faultservers.py).

The write path's one-event contract (an event of another stream, odd event ids, concurrent runs), pieces of
secrets, URLs that apps read otherwise than Python, a trust store that blocks, and UTCTime years. Each test runs
the installed command and checks the exact state and words a user reads, with no traceback and no secret.
"""
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from check_pryv.register_info import same_url
from conftest import cannot, run_plugin
from faultservers import HTTPFault, answer, http_response, json_answer, pryv_ok
from realserver import BUILD
from test_hardening import (TOKEN, clean, first_line, http, no_piece, pryv_error, reason_phrase,
                            self_signed_server_context, setup_platform)

NODE = BUILD / "node" / "bin" / "node"


# --- 9: UTCTime years 50-99 are 19YY, 00-49 20YY (RFC 5280) -----------------------------------------------

def tls_server_context(tmp_path, not_before, not_after):
    """A server context whose self-signed certificate has this validity (cryptography writes UTCTime before 2050)."""
    return self_signed_server_context(tmp_path, not_before, not_after)


def utc(year, month=1, day=1):
    return datetime.datetime(year, month, day, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("not_after, code, words", [
    (utc(1968, 6, 30), 2, "CRITICAL - certificate of reg.pryv.test expired {} days ago (1968-06-30); register knows "
                          "healthmetrics01 (200 in {}s)"),
    (utc(1950, 1, 2), 2, "CRITICAL - certificate of reg.pryv.test expired {} days ago (1950-01-02); register knows "
                         "healthmetrics01 (200 in {}s)"),
    (utc(2049, 12, 31), 0, "OK - certificate of reg.pryv.test valid for {} days (until 2049-12-31); register knows "
                           "healthmetrics01 (200 in {}s); database answers"),
])
def test_certificate_utctime_years_follow_rfc_5280(tmp_path, not_after, code, words):
    with HTTPFault(answer(pryv_ok), tls_server_context(tmp_path, utc(1950), not_after)) as server:
        result = run_plugin("check_pryv_register", "-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port),
                            "--insecure", "--certificate-days", "30", "-t", "3", "-v")
    clean(result)
    pattern = re.escape("PRYV_REGISTER " + words).replace(re.escape("{}"), "[0-9.]+")
    assert re.fullmatch(pattern, first_line(result)), result.stdout
    assert "certificate expires: %s" % not_after.strftime("%Y-%m-%dT%H:%M:%SZ") in result.stdout
    assert result.returncode == code, result.stdout


# --- 4: a service-info URL that apps read otherwise never "matches" ---------------------------------------

def service_info(register_url, port):
    return {"name": "Pryv Lab", "api": "http://127.0.0.1:%d/{username}/" % port, "register": register_url % port,
            "access": "http://127.0.0.1/access", "version": "1.9.0"}


@pytest.mark.parametrize("register_url, why", [
    ("http://evil.example\\@127.0.0.1:%d/reg/", "a backslash, which apps read as /"),
    ("http://evil.example@127.0.0.1:%d/reg/", "user info before the host"),
    ("http://127.0.0.1:%d/x/../reg/", "a dot segment, which apps remove"),
    ("http://127.0.0.1:%d/reg/%%2e%%2e/", "characters apps may read otherwise"),
    ("http://127.0.0.1:%d/reg/\t", "characters apps may read otherwise"),
])
def test_service_info_url_that_apps_read_otherwise_does_not_match(register_url, why):
    with HTTPFault(answer(lambda request: json_answer(200, service_info(register_url, port)))) as server:
        port = server.port
        result = run_plugin("check_pryv_register", "-H", "127.0.0.1", "-p", str(port), "--scheme", "http",
                            "--service-info", "-t", "3")
    shown = " ".join((register_url % port).split())
    assert first_line(result) == ("PRYV_REGISTER CRITICAL - service info of 'Pryv Lab' (version 1.9.0) does not "
                                  "match 127.0.0.1: register %s (%s)" % (shown, why)), result.stdout
    assert result.returncode == 2
    clean(result)


# URLs a register may write, for the expected http://pryv.test:8080/reg/ (or with {username}); same_url may say
# "the same" only when Node's WHATWG URL (the JS client's parser) reads that very scheme, host, port and path.
WHATWG_CASES = [
    "http://pryv.test:8080/reg/", "http://PRYV.test:8080/reg", "http://pryv.test/reg/", "HTTP://pryv.test:8080/reg/",
    "http://pryv.test.:8080/reg/", "http://pryv.test:08080/reg/", "http://pryv.test:8080//reg/",
    "http://evil.example\\@pryv.test:8080/reg/", "http://x@pryv.test:8080/reg/", "http://:@pryv.test:8080/reg/",
    "http://pryv.test:8080\\@evil.example/reg/", "http:/pryv.test:8080/reg/", "http:pryv.test:8080/reg/",
    "http:\\\\pryv.test:8080/reg/", "http://pryv.test:8080/reg/%2e%2e/reg/", "http://pryv.test:8080/x/../reg/",
    " http://pryv.test:8080/reg/", "http://pryv.test:8080/reg/\n", "http://pry\tv.test:8080/reg/",
    "http://pryv%2etest:8080/reg/", "http://pryv.test:8080/reg/?x", "http://pryv.test:8080/reg/#x",
    "http://pryv.test:8080/./reg/", "http://pryv.test:8080/reg/.", "http://[::1]:8080/reg/",
    "http://pryv.test:8080@evil.example/reg/", "http://pryv.test%40evil.example:8080/reg/",
    "http://pryv.test:8080/re%67/", "http://xn--pryv-test:8080/reg/", "http://pryv.test:8080/{username}/",
    "http://{username}.pryv.test:8080/",
]


def whatwg(urls):
    """How Node's WHATWG URL reads each URL: [protocol, hostname, port, pathname, user info + search + hash], or None
    when it refuses it."""
    if not NODE.exists():
        cannot("Node is not built in %s (the real server's build)" % NODE.parent)
    script = ("console.log(JSON.stringify(JSON.parse(process.argv[1]).map(u => { try { const p = new URL(u);"
              " return [p.protocol, p.hostname, p.port, p.pathname, p.username + p.password + p.search + p.hash] }"
              " catch (e) { return null } })))")
    done = subprocess.run([str(NODE), "-e", script, json.dumps(urls)], capture_output=True, text=True, timeout=30)
    return json.loads(done.stdout)


def test_same_url_agrees_with_the_apps_whatwg_parser():
    expectations = {"http://pryv.test:8080/reg/": ("pryv.test", "/reg"),
                    "http://pryv.test:8080/{username}/": ("pryv.test", "/alice"),
                    "http://{username}.pryv.test:8080/": ("alice.pryv.test", "")}
    apps = whatwg([url.replace("{username}", "alice") for url in WHATWG_CASES])  # as an app fills the template
    matched = set()
    for url, app in zip(WHATWG_CASES, apps):
        for expected, (host, path) in expectations.items():
            if same_url(url, expected, 8080):
                matched.add(url)
                assert app is not None and app[0] == "http:" and app[1].rstrip(".") == host, (url, app)
                assert app[2] in ("8080", "") and app[3].rstrip("/") == path and app[4] == "", (url, app)
    assert {"http://pryv.test:8080/reg/", "http://PRYV.test:8080/reg", "http://pryv.test/reg/",
            "HTTP://pryv.test:8080/reg/", "http://pryv.test.:8080/reg/", "http://pryv.test:8080/{username}/",
            "http://{username}.pryv.test:8080/"} <= matched, matched
    assert not {"http://evil.example\\@pryv.test:8080/reg/", "http://x@pryv.test:8080/reg/",
                "http://pryv.test:8080/x/../reg/"} & matched


# --- 1, 6, 7: the write path writes only the stream's own event, by an id of Pryv's form, and runs at once ----

STREAM = "check-pryv"
OLDER_ID, DIARY_ID, NEW_ID = "ck" + "older" * 4 + "000", "ck" + "diary" * 4 + "000", "ck" + "fresh" * 4 + "000"


def event(event_id, stream, content, created, **more):
    return {"id": event_id, "streamIds": [stream], "type": "note/txt", "content": content, "time": created,
            "created": created, "modified": created, **more}


class ScriptedCore:
    """A core on loopback that holds the events the test gives it, lists them all for any `streams` query (as a
    core that ignores the filter, or the events of child streams), answers the write path's calls as Pryv does,
    and records each call. `on_create` and `on_update` act as another run would, right after ours."""

    def __init__(self, events=(), stream_exists=True, new_id=NEW_ID, on_create=None, on_update=None, listings=1):
        self.events, self.listings = {e["id"]: e for e in events}, listings
        self.stream_exists, self.new_id = stream_exists, new_id
        self.on_create, self.on_update = on_create, on_update
        self.calls = []

    def serve(self, conn):
        head = conn.read_request()
        header, _, body = head.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", header)
        while length and len(body) < int(length.group(1)):
            body += conn.sock.recv(65536)
        method, target = header.split(b" ")[:2]
        conn.send(self.route(method.decode(), target.decode(), json.loads(body) if body else None))
        conn.sock.shutdown(socket.SHUT_WR)
        conn.hold(5)

    def route(self, method, target, body):
        self.calls.append("%s %s" % (method, target.split("?")[0]))
        path = target.split("?")[0]
        if method == "GET" and path == "/events" and "streams=" not in target:
            return pryv_ok(b"GET /events")
        if path == "/events" and method == "GET":
            if not self.stream_exists:
                return json_answer(400, {"error": {"id": "unknown-referenced-resource", "message": "Unknown"}})
            return json_answer(200, {"events": list(self.events.values()) * self.listings})
        if path == "/streams" and method == "POST":
            self.stream_exists = True
            return json_answer(201, {"stream": {"id": body["id"], "name": body["name"]}})
        if path == "/events" and method == "POST":
            created = event(self.new_id, body["streamIds"][0], body["content"], time.time())
            self.events[created["id"]] = dict(created)
            if self.on_create:
                self.on_create(self)
            return json_answer(201, {"event": created})
        kept = self.events.get(path[len("/events/"):])
        if not path.startswith("/events/") or kept is None:
            return json_answer(404, {"error": {"id": "unknown-resource", "message": "Unknown event"}})
        if method == "PUT":
            kept.update(body, modified=time.time())
            answered = dict(kept)
            if self.on_update:
                self.on_update(kept)
            return json_answer(200, {"event": answered})
        if method == "DELETE" and not kept.get("trashed"):
            kept["trashed"] = True
            return json_answer(200, {"event": kept})
        if method == "DELETE":
            del self.events[kept["id"]]
            return json_answer(200, {"eventDeletion": {"id": kept["id"]}})
        return json_answer(200, {"event": kept})


def write_run(core, *args):
    with HTTPFault(core.serve) as server:
        result = run_plugin("check_pryv_core", *http(server.port), "--write", *args, env={"PRYV_ACCESS_TOKEN": TOKEN})
    clean(result, TOKEN)
    return result


def value(seconds_ago=0):
    return "check_pryv %s %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago)),
                                 os.urandom(4).hex())


WRITE_EVENTS = "PRYV_CORE %s - events answered 200 in [0-9.]+s \\(API 1\\.9\\.3-open\\); "


def test_write_never_touches_an_event_of_another_stream():
    diary = event(DIARY_ID, "diary", "my private diary", time.time() - 3600)
    core = ScriptedCore([diary])
    result = write_run(core)
    assert core.events[DIARY_ID] == diary
    assert not [call for call in core.calls if DIARY_ID in call], core.calls
    assert core.calls == ["GET /events", "GET /events", "POST /events", "GET /events", "GET /events/" + NEW_ID]
    assert re.fullmatch(WRITE_EVENTS % "CRITICAL" + "the event of stream check-pryv was deleted by someone: created "
                        "again", first_line(result)), result.stdout
    assert result.returncode == 2


@pytest.mark.parametrize("event_id", [".", "..", "a/b", "%2e%2e", "..%2f", "ck/../events", "CKUPPER0000000000000000000",
                                      "c" + "k" * 64, "", "-ck0000000000000000000000", "1ck000000000000000000000",
                                      "ck\u0430000000000000000000000", 25])
@pytest.mark.parametrize("where", ["listed", "created"])
def test_write_refuses_an_event_id_not_of_pryvs_form(event_id, where):
    listed = [event(event_id, STREAM, value(60), time.time() - 60)] if where == "listed" else []
    core = ScriptedCore(listed, new_id=event_id)
    result = write_run(core, "-vvv")
    doing = "finding the event" if where == "listed" else "creating the event"
    shown = str(event_id) if len(str(event_id)) <= 40 else str(event_id)[:40] + "..."
    assert first_line(result) == ("PRYV_CORE CRITICAL - events answered 200 in %s (API 1.9.3-open); %s: the core "
                                  "gave an event of stream check-pryv the id '%s', not of Pryv's form: not written"
                                  % (first_line(result).split(" in ")[1].split(" ")[0], doing, shown)), result.stdout
    assert core.calls == ["GET /events", "GET /events"] + ["POST /events"] * (where == "created")
    assert result.returncode == 2


def test_write_first_runs_at_once_keep_the_oldest_event():
    older = event(OLDER_ID, STREAM, value(1), time.time() - 1)

    def another_first_run(core):  # it created its event just before ours
        core.events[OLDER_ID] = dict(older)

    core = ScriptedCore(stream_exists=False, on_create=another_first_run)
    result = write_run(core)
    assert re.fullmatch(WRITE_EVENTS % "OK" + "first runs at once: the oldest event of stream check-pryv kept, "
                        "written and read back; 1 extra event of stream check-pryv removed \\(made by first runs at "
                        "once\\)", first_line(result)), result.stdout
    assert list(core.events) == [OLDER_ID]
    assert core.calls == ["GET /events", "GET /events", "POST /streams", "POST /events", "GET /events",
                          "DELETE /events/" + NEW_ID, "DELETE /events/" + NEW_ID, "PUT /events/" + OLDER_ID,
                          "GET /events/" + OLDER_ID]
    assert result.returncode == 0


def test_write_later_run_removes_extra_events_and_keeps_the_oldest():
    now = time.time()
    extras = [event(NEW_ID, STREAM, value(5), now - 5), event(OLDER_ID, STREAM, value(9), now - 9),
              event(DIARY_ID, STREAM, value(7), now - 7, trashed=True)]
    core = ScriptedCore(extras)
    result = write_run(core)
    assert re.fullmatch(WRITE_EVENTS % "OK" + "event written and read back; 2 extra events of stream check-pryv "
                        "removed \\(made by first runs at once\\)", first_line(result)), result.stdout
    assert list(core.events) == [OLDER_ID]
    assert core.calls[2:] == ["DELETE /events/" + NEW_ID] * 2 + ["DELETE /events/" + DIARY_ID,
                                                                 "PUT /events/" + OLDER_ID, "GET /events/" + OLDER_ID]


def test_write_event_listed_twice_is_one_event():
    core = ScriptedCore([event(OLDER_ID, STREAM, value(60), time.time() - 60)], listings=2)
    result = write_run(core)
    assert re.fullmatch(WRITE_EVENTS % "OK" + "event written and read back", first_line(result)), result.stdout
    assert core.calls[2:] == ["PUT /events/" + OLDER_ID, "GET /events/" + OLDER_ID]


@pytest.mark.parametrize("other, later, code, words", [
    (value(0), 0.001, 0, "event written; read back the newer value of a run at the same time"),
    (value(0), -5, 2, "read-back differs: wrote 'check_pryv [^']+', read 'check_pryv [^']+'"),
    ("my own note", 0.001, 2, "read-back differs: wrote 'check_pryv [^']+', read 'my own note'"),
])
def test_write_read_back_of_a_run_at_the_same_time(other, later, code, words):
    def another_run(kept):  # it wrote right after ours (later > 0), or a storage gave back an older value
        kept.update(content=other, modified=kept["modified"] + later)

    core = ScriptedCore([event(OLDER_ID, STREAM, value(60), time.time() - 60)], on_update=another_run)
    result = write_run(core)
    assert re.fullmatch(WRITE_EVENTS % ("OK" if code == 0 else "CRITICAL") + words, first_line(result)), result.stdout
    assert result.returncode == code


# Runs at once for real: two plugin processes started together against the sandbox and the real server.

ATTEMPTS = 6


def at_once(command, env=None):
    """Two runs of `command` started together; their CompletedProcess-like (returncode, stdout)."""
    full_env = {k: v for k, v in os.environ.items() if k != "PRYV_ACCESS_TOKEN"}
    full_env.update(env or {})
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.DEVNULL, env=full_env) for _ in range(2)]
    return [(process.wait(30), process.stdout.read()) for process in processes]


def runs_at_once_keep_one_event(command, stream_events):
    """First runs at once, then later runs at once, on fresh streams: every run OK, one event left each time;
    at least one attempt had its first runs meet (else the test proved nothing)."""
    met = 0
    for attempt in range(ATTEMPTS):
        stream = "check-at-once-%d-%s" % (attempt, os.urandom(3).hex())
        for _ in range(2):  # the first runs, then two runs updating the one event
            results = at_once(command + ["--write-stream", stream, "-v"])
            for code, output in results:
                assert code == 0, output
                assert TOKEN[:8] not in output
            met += any("first runs at once" in output for _, output in results)
            assert len(stream_events(stream)) == 1, results
    assert met, "no two first runs met in %d attempts" % ATTEMPTS


def test_write_runs_at_once_on_the_sandbox_keep_one_event(sandbox):
    from conftest import dnsless_args, plugin_path

    runs_at_once_keep_one_event(
        [plugin_path("check_pryv_core"), *dnsless_args(sandbox), "--token-file", sandbox.token_file, "--write"],
        lambda stream: [e for e in sandbox._users[sandbox.username]["events"] if stream in e["streamIds"]])


RACE_USER = "healthrace01"


def test_write_runs_at_once_on_the_real_server_keep_one_event(real_server, tmp_path):
    """On the real server, first runs at once on a missing stream hit a defect of open-pryv.io v2: the stream one
    run creates stays unknown to the user's event creations for good (400 unknown-referenced-resource, every later
    run too; found by this test). So the runs meet here where the stream exists: its event deleted by someone, two
    runs at once each create one, and one event remains; then runs at once update it, all OK."""
    from conftest import plugin_path

    token_file = tmp_path / "race.token"
    real_server.delete_user(RACE_USER)  # left by an earlier run against a server that outlived it
    made = run_plugin("check_pryv_setup", *real_server.dnsless_args(), "--username", RACE_USER, "--token-file",
                      str(token_file), env={"PRYV_PASSWORD": "race-pass-1"}, timeout=60)
    assert made.returncode == 0, made.stderr
    token = token_file.read_text().strip()
    command = [plugin_path("check_pryv_core"), *real_server.dnsless_args(), "--username", RACE_USER, "--token-file",
               str(token_file), "--write", "-v"]

    def api(method, path):
        answer = real_server.request(method, "%s/%s" % (RACE_USER, path), headers={"Authorization": token})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def stream_events():
        query = json.dumps([STREAM], separators=(",", ":"))
        return api("GET", "events?streams=%s&state=all&limit=1000" % query)["events"]

    try:
        assert run_plugin("check_pryv_core", *command[1:]).returncode == 0  # stream and event made
        met = 0
        for attempt in range(ATTEMPTS):
            for event_id in [e["id"] for e in stream_events()]:  # someone deletes the event for good
                api("DELETE", "events/" + event_id)
                api("DELETE", "events/" + event_id)
            results = at_once(command)
            for code, output in results:
                words = output.splitlines()[0].split("; ", 1)[1]
                assert (code, words.split(";")[0]) in (
                    (0, "first runs at once: the oldest event of stream check-pryv kept, written and read back"),
                    (0, "event written and read back"),  # the other run had made its event already
                    (2, "the event of stream check-pryv was deleted by someone: created again")), output
            met += any("at once" in output for _, output in results)
            assert len(stream_events()) == 1, results
            for code, output in at_once(command):  # then runs at once on the one event
                assert code == 0 and " OK - " in output, output
            assert len(stream_events()) == 1
        assert met, "no two runs met in %d attempts" % ATTEMPTS
    finally:
        real_server.delete_user(RACE_USER)


# --- 8: any piece of 8 or more characters of a secret is hidden, on every output path -----------------------

SWEPT_TOKEN = "ckSWEEPtoken0must1never2show3x"
SESSION = "ckSESSIONtoken0of1the2platform"
PASSWORD = "sweep-pass-4-the-setup"


def pieces(value):
    """Prefixes, suffixes and middles of a secret, as a platform may echo them: 8 characters and more."""
    return [value[:8], value[:14], value[:20], value[-8:], value[-13:], value[4:12], value[7:22], value[1:-1]]


ECHOED = "/".join(pieces(SWEPT_TOKEN))
PIECE_ECHOES = {  # a core that echoes pieces of the token it got, in each place server text reaches the output
    "error message": pryv_error(403, "forbidden", "token " + ECHOED),
    "error id": pryv_error(400, ECHOED, "m"),
    "Location": http_response(302, "", [("Location", "http://evil.test/" + ECHOED)]),
    "reason phrase": reason_phrase(ECHOED),
    "HTML title": http_response(500, "<title>%s</title>" % ECHOED, [("Content-Type", "text/html")]),
    "body excerpt": http_response(500, ECHOED),
    "apiVersion": json_answer(200, {"events": [], "meta": {"apiVersion": "1." + ECHOED}}),
    "wrong-core data": pryv_error(421, "wrong-core", "", {"coreUrl": "https://" + ECHOED}),
    "status line": b"HTTP/1.1 200 OK " + ECHOED.encode() + b"\r\nContent-Length: 0\r\n\r\n",
    "not HTTP": ECHOED.encode() + b"\r\n\r\n",
    "chunk size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + SWEPT_TOKEN[:20].encode()
                   + b"\r\n"),
}


@pytest.mark.parametrize("where", list(PIECE_ECHOES))
def test_pieces_of_the_token_echoed_by_the_core_never_show(where):
    with HTTPFault(answer(PIECE_ECHOES[where])) as server:
        for verbosity in ([], ["-vvv"]):
            result = run_plugin("check_pryv_core", *http(server.port), *verbosity,
                                env={"PRYV_ACCESS_TOKEN": SWEPT_TOKEN})
            no_piece(result.stdout + result.stderr, SWEPT_TOKEN)
            assert "Traceback" not in result.stdout + result.stderr
            if verbosity:
                assert "***" in result.stdout, result.stdout  # the piece was there to hide


def test_pieces_of_the_token_in_the_write_path_never_show():
    def another_run(kept):  # a core that gives back pieces of the token as the event's content
        kept.update(content=ECHOED)

    core = ScriptedCore([event(OLDER_ID, STREAM, value(60), time.time() - 60)], on_update=another_run)
    with HTTPFault(core.serve) as server:
        result = run_plugin("check_pryv_core", *http(server.port), "--write", "-vvv",
                            env={"PRYV_ACCESS_TOKEN": SWEPT_TOKEN})
    no_piece(result.stdout + result.stderr, SWEPT_TOKEN)
    assert re.match(WRITE_EVENTS % "CRITICAL" + "read-back differs: wrote 'check_pryv [^']+', read '[*/]+'",
                    first_line(result)), result.stdout


def test_pieces_of_the_token_in_a_traceback_never_show():
    code = ("import sys\n"
            "from check_pryv import check_core, client\n"
            "def broken(*args, **kwargs):\n"
            "    raise RuntimeError(%r)\n"
            "client.Client.request = broken\n"
            "check_core.main(sys.argv[1:])\n" % ECHOED)
    for verbosity in ([], ["-vvv"]):
        result = subprocess.run([sys.executable, "-c", code, "-D", "pryv.test", *verbosity],
                                capture_output=True, text=True, timeout=30,
                                env={**os.environ, "PRYV_ACCESS_TOKEN": SWEPT_TOKEN})
        no_piece(result.stdout + result.stderr, SWEPT_TOKEN)
        assert result.stdout.startswith("PRYV_CORE UNKNOWN - internal error: RuntimeError: ***"), result.stdout
        assert ("Traceback (most recent call last):" in result.stdout) == bool(verbosity)


def test_pieces_of_the_password_and_session_token_in_setup_never_show():
    login = json_answer(200, {"token": SESSION, "apiEndpoint": "http://x/", "preferredLanguage": "en"})
    echo = "/".join(pieces(SESSION) + pieces(PASSWORD))
    access = pryv_error(400, "invalid-parameters-format", "session " + echo, {"password": PASSWORD[:10]})
    with setup_platform(login, access) as server:
        result = run_plugin("check_pryv_setup", *http(server.port), "-v", env={"PRYV_PASSWORD": PASSWORD})
    no_piece(result.stdout + result.stderr, SESSION, PASSWORD)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        'check_pryv_setup: error: core: creating the access "metricsAccess" refused: 400 invalid-parameters-format: '
        "session ***"), result.stderr
    assert result.returncode == 1


# --- 5: the deadline covers reading the trust store: a FIFO as CA file ends the run within -t, saying so -------

def blocked_run(command, *args, env=None):
    started = time.monotonic()
    result = run_plugin(command, *args, "-t", "2", env=env, timeout=10)
    return result, time.monotonic() - started


@pytest.mark.parametrize("command", ["check_pryv_core", "check_pryv_register"])
def test_ca_file_that_is_a_fifo_ends_within_the_timeout(tmp_path, command):
    os.mkfifo(tmp_path / "ca.pem")
    result, elapsed = blocked_run(command, "-D", "pryv.test", "--ca-cert", str(tmp_path / "ca.pem"),
                                  env={"PRYV_ACCESS_TOKEN": SWEPT_TOKEN})
    assert result.stdout == "%s UNKNOWN - timed out after 2s while reading the CA file %s (--ca-cert)\n" % (
        {"check_pryv_core": "PRYV_CORE", "check_pryv_register": "PRYV_REGISTER"}[command], tmp_path / "ca.pem")
    assert result.returncode == 3 and elapsed < 2.2 and result.stderr == ""


def test_ssl_cert_file_that_is_a_fifo_ends_within_the_timeout():
    with tempfile.TemporaryDirectory(dir="/tmp") as directory:  # a short path: the first line is cut at 200
        os.mkfifo(os.path.join(directory, "bundle.pem"))
        result, elapsed = blocked_run("check_pryv_register", "-D", "pryv.test", "-v",
                                      env={"SSL_CERT_FILE": directory + "/bundle.pem", "SSL_CERT_DIR": directory})
    assert result.stdout == ("PRYV_REGISTER UNKNOWN - timed out after 2s while reading the system's trust store "
                             "(SSL_CERT_FILE={0}/bundle.pem, SSL_CERT_DIR={0})\n".format(directory))
    assert result.returncode == 3 and elapsed < 2.2


def test_ssl_cert_dir_whose_issuer_file_is_a_fifo_ends_saying_where(tmp_path):
    """OpenSSL opens the issuer's file in the handshake, and opens it again once the alarm interrupted it: the last
    resort ends the run, naming the call and its stage."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("reg.pryv.test").configure_cert(server_context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    issuer_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(tmp_path / "ca.pem")],
                                 capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "certs").mkdir()
    os.mkfifo(tmp_path / "certs" / (issuer_hash + ".0"))
    with HTTPFault(answer(pryv_ok), server_context) as server:
        result, elapsed = blocked_run("check_pryv_register", "-D", "pryv.test", "-I", "127.0.0.1", "-p",
                                      str(server.port), env={"SSL_CERT_DIR": str(tmp_path / "certs"),
                                                             "SSL_CERT_FILE": None})
    assert result.stdout == ("PRYV_REGISTER UNKNOWN - plugin did not finish within 2s: the call to "
                             "https://reg.pryv.test:%d/healthmetrics01/check_username, at stage TLS, blocked\n"
                             % server.port)
    assert result.returncode == 3 and elapsed < 2.4
