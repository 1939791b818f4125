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
from check_pryv.deadline import DeadlineExceeded

METRIC = "write"  # its outcome's metric, as check_core's parts name it (check_core.PARTS)
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
    """Measures the write path: writes a fresh value to the one event of the stream, reads it back.

    The other parts that work on an event of the check stream (check_pryv.series, check_pryv.attachment) are
    WritePaths too: their own `metric`, `label` (their -v lines' and messages' start), `event_type`, round_trip()
    and times(); `step` names the step under way, which a failed call's message tells."""

    metric, label, event_type = METRIC, "write path", EVENT_TYPE
    step = None

    def __init__(self, client, target, username, token, stream, events_read):
        self.client, self.target, self.username, self.token = client, target, username, token
        self.stream, self.events_read = stream, events_read
        self.write_time = self.read_time = 0.0
        self.lines = []

    def probe(self):
        answer = self.events_read.outcome
        if isinstance(answer, TransportError) or answer.status != 200:  # the events call says what is wrong
            self.lines.append("%s: not tried, the events call failed" % self.label)
            yield nagiosplugin.Metric(self.metric, Outcome("skipped"), context=self.metric)
            return
        try:
            self.client.deadline.remaining()  # a part before this one may have used all the time
            outcome = self.round_trip()
        except DeadlineExceeded:
            outcome = Outcome("late", "%s: not tried, no time left" % self.label)
        except TransportError as error:
            outcome = Outcome("unreachable", "%s: %s%s" % (self.label, self.step + ": " if self.step else "", error))
        except Failed as error:
            outcome = Outcome(error.args[0], self.said(error.args[1]))
        yield nagiosplugin.Metric(self.metric, outcome, context=self.metric)
        yield from self.times()

    def said(self, text):
        """A failure's words on the status line (the other parts say theirs after their label)."""
        return text

    def times(self):
        if self.write_time:
            yield nagiosplugin.Metric("write_time", plugin.perf_seconds(self.write_time), "s", min=0,
                                      context="write_time")
        if self.read_time:
            yield nagiosplugin.Metric("read_time", plugin.perf_seconds(self.read_time), "s", min=0,
                                      context="read_time")

    def round_trip(self):
        value = "check_pryv %s %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.urandom(4).hex())
        event_id, kind = self.check_event(value, replace=True)
        self.read_back(event_id, value)
        return Outcome(kind, {
            "written": "event written and read back",
            "first": "first run: stream %s and its event created, read back" % self.stream,
            "recreated": "the event of stream %s was deleted by someone: created again" % self.stream,
            "restored": "the event of stream %s was trashed by someone: restored" % self.stream,
        }[kind])

    def check_event(self, content=None, replace=False):
        """The id of the stream's event of `event_type`, and what was done: `first` (created with the stream),
        `recreated` (created in the stream), `restored` (out of the trash) or `written`. A new event gets `content`
        (when not None); `replace` puts it in the event found too."""
        event, stream_exists = self.find()
        if event is None:
            if not stream_exists:
                self.write("POST", "streams", {"id": self.stream, "name": STREAM_NAME}, "creating the stream",
                           also_fine="item-already-exists")  # made by a run in between
                if self.event_type != EVENT_TYPE:  # the write path's event too: a stream without it is one whose
                    # event someone deleted, which the write path says
                    self.write("POST", "events", {"streamIds": [self.stream], "type": EVENT_TYPE,
                                                  "content": STREAM_NAME}, "creating the check event")
            body = {"streamIds": [self.stream], "type": self.event_type}
            if content is not None:
                body["content"] = content
            created = self.write("POST", "events", body, "creating the event")
            return self.event_of(created, "creating the event")["id"], "recreated" if stream_exists else "first"
        event_id, trashed = event["id"], event.get("trashed") is True
        update = {"content": content} if replace else {}
        if trashed:
            update["trashed"] = False
        if update:
            self.write("PUT", "events/" + quote(event_id, safe=""), update, "updating the event")
        return event_id, "restored" if trashed else "written"

    def call(self, method, path, body=None, files=None, auth=True):
        """One call to the user's core: `files` a multipart upload, `auth` False sends no access token (the path
        carries its own, which the -v line leaves out with the rest of the query)."""
        try:
            answer = self.client.request(method, self.target.core_url(self.username, path), json_body=body,
                                         files=files, headers={"Authorization": self.token} if auth else None)
        except TransportError as error:
            self.lines.append("%s: %s /%s -> failed at stage %s after %.3fs" % (
                self.label, method, path.split("?")[0], error.stage, error.elapsed))
            raise
        self.lines.append("%s: %s /%s -> %d in %.3fs" % (self.label, method, path.split("?")[0], answer.status,
                                                          answer.elapsed))
        return answer

    def find(self):
        """(the stream's event or None, whether the stream exists)."""
        streams = quote(json.dumps([self.stream], separators=(",", ":")), safe="")
        answer = self.call("GET", "events?streams=%s&types=%s&state=all&limit=1" % (
            streams, quote(self.event_type, safe="")))
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


class WriteContext(nagiosplugin.Context):
    """OK when the value round-trips; CRITICAL when the core refused, gave back another value, or lost the event."""

    STATES = {"written": nagiosplugin.Ok, "first": nagiosplugin.Ok, "skipped": nagiosplugin.Ok}

    def __init__(self, name="write"):
        super().__init__(name)

    def evaluate(self, metric, resource):
        outcome = metric.value
        return self.result_cls(self.STATES.get(outcome.kind, nagiosplugin.Critical), outcome.text, metric)


def resource(client, target, username, token, args, events_read):
    """The write path, as check_core runs its parts (check_core.PARTS)."""
    return WritePath(client, target, username, token, args.write_stream, events_read)


def contexts(args):
    """The write path's contexts: its outcome, write_time judged by --write-warning/--write-critical, read_time."""
    return [WriteContext(),
            plugin.TimeContext(args.write_warning, args.write_critical, "write_time", "write time"),
            plugin.TimeContext(None, None, "read_time", "read time")]
