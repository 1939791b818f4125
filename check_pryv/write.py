"""check_pryv_core --write: the core saves data and gives it back, not only reads.

After the usual events?limit=1 call, on the health account's core (calls open-pryv.io v2 accepts as they are):

1. `GET /events?streams=["STREAM"]&state=all&limit=1` finds the one event of the stream --write-stream (default
   `check-pryv`), trashed or not: no state file is kept on the monitoring side;
2. first run: `POST /streams {id, name}` and `POST /events {streamIds, type: note/txt, content}` create them;
   afterwards `PUT /events/ID {content}` replaces the event's content with a fresh value (and `trashed: false`
   when someone trashed it);
3. `GET /events/ID` reads it back: the content must be the value just written.

Nothing grows: one stream, one event, however many runs. States: OK when the value round-trips (also on the
first run, which says it created them); CRITICAL when a write is refused (with the platform's error id and
message: open-pryv.io v2 on a read-only PostgreSQL gives `500 unexpected-error` with the database's message),
when the read-back differs, and when
someone deleted or trashed the event (it is then created again, or restored, and the status line says so).
Perfdata `write_time` (the calls that write) and `read_time` (the read-back), in seconds.
"""
import json
import os
import time
from urllib.parse import quote

import nagiosplugin

from check_pryv import options, plugin
from check_pryv.client import TransportError, one_line

EVENT_TYPE = "note/txt"
STREAM_NAME = "check_pryv write test"
MISSING_STREAM = "unknown-referenced-resource"  # GET /events naming a stream that does not exist


class Failed(Exception):
    """A step of the write path did not go as it should; the text says which and what the core answered."""


class Outcome:
    """What the write path found and did: `kind` is one of written, first, recreated, restored, refused,
    differs, unreachable or skipped; `text` words it."""

    def __init__(self, kind, text=None):
        self.kind, self.text = kind, text


class WritePath(nagiosplugin.Resource):
    """Measures the write path: writes a fresh value to the one event of the stream, reads it back."""

    def __init__(self, client, target, username, token, stream, events_read):
        self.client, self.target, self.username, self.token = client, target, username, token
        self.stream, self.events_read = stream, events_read
        self.write_time = self.read_time = 0.0
        self.lines = []

    def probe(self):
        answer = self.events_read.outcome
        if isinstance(answer, TransportError) or answer.status != 200:  # the events call says what is wrong
            self.lines.append("write path: not tried, the events call failed")
            yield nagiosplugin.Metric("write", Outcome("skipped"), context="write")
            return
        try:
            outcome = self.round_trip()
        except TransportError as error:
            outcome = Outcome("unreachable", "write path: %s" % error)
        except Failed as error:
            outcome = Outcome(*error.args)
        yield nagiosplugin.Metric("write", outcome, context="write")
        if self.write_time:
            yield nagiosplugin.Metric("write_time", plugin.perf_seconds(self.write_time), "s", min=0,
                                      context="write_time")
        if self.read_time:
            yield nagiosplugin.Metric("read_time", plugin.perf_seconds(self.read_time), "s", min=0,
                                      context="read_time")

    def round_trip(self):
        value = "check_pryv %s %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.urandom(4).hex())
        event, stream_exists = self.find()
        if event is None:
            if not stream_exists:
                self.write("POST", "streams", {"id": self.stream, "name": STREAM_NAME}, "creating the stream",
                           also_fine="item-already-exists")  # made by a run in between
            created = self.write("POST", "events", {"streamIds": [self.stream], "type": EVENT_TYPE,
                                                    "content": value}, "creating the event")
            event_id = self.event_of(created, "creating the event")["id"]
            kind = "recreated" if stream_exists else "first"
        else:
            event_id, trashed = event["id"], event.get("trashed") is True
            update = {"content": value, "trashed": False} if trashed else {"content": value}
            self.write("PUT", "events/" + quote(event_id, safe=""), update, "updating the event")
            kind = "restored" if trashed else "written"
        self.read_back(event_id, value)
        return Outcome(kind, {
            "written": "event written and read back",
            "first": "first run: stream %s and its event created, read back" % self.stream,
            "recreated": "the event of stream %s was deleted by someone: created again" % self.stream,
            "restored": "the event of stream %s was trashed by someone: restored" % self.stream,
        }[kind])

    def call(self, method, path, body=None):
        answer = self.client.request(method, self.target.core_url(self.username, path),
                                     headers={"Authorization": self.token}, json_body=body)
        self.lines.append("write path: %s /%s -> %d in %.3fs" % (method, path.split("?")[0], answer.status,
                                                                  answer.elapsed))
        return answer

    def find(self):
        """(the stream's event or None, whether the stream exists)."""
        streams = quote(json.dumps([self.stream], separators=(",", ":")), safe="")
        answer = self.call("GET", "events?streams=%s&state=all&limit=1" % streams)
        if answer.status == 400 and (answer.pryv_error or ("",))[0] == MISSING_STREAM:
            return None, False
        body = answer.json
        if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise Failed("unreachable", "finding the event: core answered %s" % answer.problem())
        events = [e for e in body["events"] if isinstance(e, dict) and isinstance(e.get("id"), str)]
        return (events[0] if events else None), True

    def write(self, method, path, body, doing, also_fine=None):
        answer = self.call(method, path, body)
        self.write_time += answer.elapsed
        if answer.status in (200, 201) or (answer.pryv_error or ("",))[0] == also_fine:
            return answer
        raise Failed("refused", "%s refused: %s" % (doing, answer.problem()))

    @staticmethod
    def event_of(answer, doing):
        event = answer.json.get("event") if isinstance(answer.json, dict) else None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise Failed("refused", "%s: core answered %d without the event: %s" % (
                doing, answer.status, answer.body_excerpt()))
        return event

    def read_back(self, event_id, value):
        answer = self.call("GET", "events/" + quote(event_id, safe=""))
        self.read_time = answer.elapsed
        if answer.status != 200:
            raise Failed("differs", "reading the event back failed: %s" % answer.problem())
        event = self.event_of(answer, "reading the event back")
        if "deleted" in event:  # v2 answers a deleted event's id with its tombstone
            raise Failed("differs", "reading the event back: it was deleted meanwhile")
        if event.get("content") != value or event.get("trashed") is True:
            read = "a trashed event" if event.get("trashed") is True else "'%s'" % one_line(event.get("content"), 40)
            raise Failed("differs", "read-back differs: wrote '%s', read %s" % (value, read))

    def details(self):
        return self.lines


def refusal(client, target, username, token, stream):
    """Why the access may not write to `stream` (None when it may, or when access-info does not say):
    check_pryv_platform runs the write path by default only for an access with contribute or manage on the stream
    or on `*`."""
    try:
        answer = client.request("GET", target.core_url(username, "access-info"), headers={"Authorization": token})
    except TransportError:
        return None  # the write path, tried, says what fails
    info = answer.json if answer.status == 200 else None
    if not isinstance(info, dict) or info.get("type") == "personal" or not isinstance(info.get("permissions"), list):
        return None
    levels = {p.get("streamId"): p.get("level") for p in info["permissions"] if isinstance(p, dict)}
    level = levels.get(stream) or levels.get("*")
    if level in ("contribute", "manage"):
        return None
    return "the access has %s on stream %s, not contribute or manage (--write runs it)" % (
        "'%s'" % one_line(level, 20) if level else "no permission", stream)


class WriteContext(nagiosplugin.Context):
    """OK when the value round-trips; CRITICAL when the core refused, gave back another value, or lost the event."""

    STATES = {"written": nagiosplugin.Ok, "first": nagiosplugin.Ok, "skipped": nagiosplugin.Ok}

    def __init__(self):
        super().__init__("write")

    def evaluate(self, metric, resource):
        outcome = metric.value
        return self.result_cls(self.STATES.get(outcome.kind, nagiosplugin.Critical), outcome.text, metric)


class Summary(plugin.Summary):
    """The events call's words, then the write path's."""

    def ok(self, results):
        hints = [results[name].hint for name in (self.main_metric, "write") if name in results]
        return plugin.printable("; ".join(hint for hint in hints if hint))


def contexts(args):
    """The write path's contexts: its outcome, write_time judged by --write-warning/--write-critical, read_time."""
    return [WriteContext(),
            plugin.TimeContext(args.write_warning, args.write_critical, "write_time", "write time"),
            plugin.TimeContext(None, None, "read_time", "read time")]
