"""check_pryv_core --write: the core saves data and gives it back, not only reads.

After the usual events?limit=1 call, on the health account's core (calls open-pryv.io v2 accepts as they are):

1. `GET /events?streams=["STREAM"]&state=all&limit=20` finds the event of the stream --write-stream (default
   `check-pryv`), trashed or not: no state file is kept on the monitoring side. Only an event whose `streamIds`
   hold the stream counts (the filter also gives the events of child streams), and only an id of Pryv's form
   (`is_event_id`) ever goes into a URL;
2. first run: `POST /streams {id, name}` and `POST /events {streamIds, type: note/txt, content}` create them;
   afterwards `PUT /events/ID {content}` replaces the event's content with a fresh value (and `trashed: false`
   when someone trashed it). First runs at once (from several monitoring endpoints) each create an event: after
   creating, a run lists the stream again, keeps the oldest event (by `created`, then id) and deletes the others;
3. `GET /events/ID` reads it back: the content must be the value just written, or a value of check_pryv's own
   form that the core stamped as modified after ours (a run at the same time wrote it).

Nothing grows: one stream, one event, however many runs. States: OK when the value round-trips (also on the
first run, which says it created them); CRITICAL when a write is refused (with the platform's error id and
message: open-pryv.io v2 on a read-only PostgreSQL gives `500 unexpected-error` with the database's message),
when the core gives an event id not of Pryv's form, when the read-back differs, and when someone deleted or
trashed the event (it is then created again, or restored, and the status line says so).
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
from check_pryv.options import HEX

METRIC = "write"  # its outcome's metric, as check_core's parts name it (check_core.PARTS)
EVENT_TYPE = "note/txt"
STREAM_NAME = "check_pryv write test"
MISSING_STREAM = "unknown-referenced-resource"  # GET /events naming a stream that does not exist
LISTED = 20  # events listed to find the stream's own among those of child streams and of concurrent first runs
VALUE_PREFIX, VALUE_TIME = "check_pryv", "%Y-%m-%dT%H:%M:%SZ"
# Event ids as Pryv makes them: cuid (`c` and 24 characters, open-pryv.io 1.x and the sandbox) and cuid2 (24
# lower-case letters and digits, the first a letter, open-pryv.io v2's MallUserEvents), with room for other lengths.
EVENT_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
MAX_EVENT_ID = 64


def is_event_id(text):
    """Whether `text` is an event id of Pryv's form: never `.`, `..`, a slash or an escape in a URL's path."""
    return options.made_of(text, EVENT_ID_CHARACTERS, MAX_EVENT_ID) and text[0].isalpha()


def is_value(content):
    """Whether `content` is a value of check_pryv's own form (`check_pryv 2026-01-02T03:04:05Z 0a1b2c3d`)."""
    parts = content.split(" ") if isinstance(content, str) else []
    if len(parts) != 3 or parts[0] != VALUE_PREFIX or len(parts[2]) != 8 or not HEX.issuperset(parts[2]):
        return False
    try:
        time.strptime(parts[1], VALUE_TIME)
    except ValueError:
        return False
    return True


def is_stamp(value):
    """Whether `value` is a time stamp as the core writes them (seconds, a JSON number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def later(modified, written_at):
    """Whether the core's `modified` stamps are numbers and the first is not before the second: the read-back's
    event was written after ours, by the core's own clock (a storage that lost our write keeps an older stamp)."""
    return is_stamp(modified) and is_stamp(written_at) and modified >= written_at


def age(event):
    """The order in which first runs at once keep the oldest event: by `created`, then by id."""
    created = event.get("created")
    return (created if is_stamp(created) else float("inf"), event["id"])


class Failed(Exception):
    """A step of the write path did not go as it should; the text says which and what the core answered."""


class Outcome:
    """What the write path found and did: `kind` is one of written, first, concurrent, recreated, restored,
    refused, differs, unreachable or skipped; `text` words it."""

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
        self.written, self.removed = {}, 0  # set by check_event()

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
        value = "%s %s %s" % (VALUE_PREFIX, time.strftime(VALUE_TIME, time.gmtime()), os.urandom(4).hex())
        event_id, kind = self.check_event(value, replace=True)
        text = {
            "written": "event written and read back",
            "first": "first run: stream %s and its event created, read back" % self.stream,
            "concurrent": "first runs at once: the oldest event of stream %s kept, written and read back" % self.stream,
            "recreated": "the event of stream %s was deleted by someone: created again" % self.stream,
            "restored": "the event of stream %s was trashed by someone: restored" % self.stream,
        }[kind]
        if not self.read_back(event_id, value, self.written.get("modified")):
            text = "%s; read back the newer value of a run at the same time" % (
                "event written" if kind == "written" else text)
        if self.removed:
            text += "; %d extra event%s of stream %s removed (made by first runs at once)" % (
                self.removed, "s" * (self.removed > 1), self.stream)
        return Outcome(kind, text)

    def check_event(self, content=None, replace=False):
        """The id of the stream's event of `event_type`, and what was done: `first` (created with the stream),
        `recreated` (created in the stream), `concurrent` (first runs at once each created one: the oldest is
        kept), `restored` (out of the trash) or `written`. A new event gets `content` (when not None); `replace`
        puts it in the event found too. Sets `written` (the event as the core last gave it) and `removed` (how
        many extra events of first runs at once went)."""
        events, stream_exists = self.find()
        ours = None
        if not events:
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
            ours = self.event_of(self.write("POST", "events", body, "creating the event"), "creating the event")
            # first runs at once each made an event: all of them keep the oldest and remove the others
            events = self.find()[0]
            events += [ours] if ours["id"] not in (event["id"] for event in events) else []
        kept = min(events, key=age)
        self.removed = self.remove([event for event in events if event["id"] != kept["id"]])  # listed twice is one
        if ours is not None and kept["id"] == ours["id"]:
            self.written = ours
            return kept["id"], "first" if not stream_exists else "concurrent" if len(events) > 1 else "recreated"
        trashed = kept.get("trashed") is True
        update = {"content": content} if replace else {}
        if trashed:
            update["trashed"] = False
        self.written = kept
        if update:
            self.written = self.event_of(self.write("PUT", "events/" + kept["id"], update, "updating the event"),
                                         "updating the event")
        return kept["id"], "concurrent" if ours is not None else "restored" if trashed else "written"

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
        """(the events of the stream itself, whether the stream exists). Pryv's `streams` filter also gives the
        events of child streams: only those whose streamIds hold the stream are the check's."""
        streams = quote(json.dumps([self.stream], separators=(",", ":")), safe="")
        answer = self.call("GET", "events?streams=%s&types=%s&state=all&limit=%d" % (
            streams, quote(self.event_type, safe=""), LISTED))
        if answer.status == 400 and (answer.pryv_error or ("",))[0] == MISSING_STREAM:
            return [], False
        body = answer.json
        if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise Failed("unreachable", "finding the event: core answered %s" % answer.problem())
        return [self.checked(event, "finding the event") for event in body["events"]
                if isinstance(event, dict) and isinstance(event.get("streamIds"), list)
                and self.stream in event["streamIds"]], True

    def checked(self, event, doing):
        """The event, once its id has Pryv's form: an id goes into a URL (`..` would make it the user's root)."""
        event_id = event.get("id")
        if not isinstance(event_id, str) or not is_event_id(event_id):
            raise Failed("refused", "%s: the core gave an event of stream %s the id '%s', not of Pryv's form: "
                                    "not written" % (doing, self.stream, one_line(event_id, 40)))
        return event

    def write(self, method, path, body, doing, also_fine=None):
        answer = self.call(method, path, body)
        self.write_time += answer.elapsed
        if answer.status in (200, 201) or (answer.pryv_error or ("",))[0] == also_fine:
            return answer
        raise Failed("refused", "%s refused: %s" % (doing, answer.problem()))

    def remove(self, events):
        """Delete the extra events for good (trash, then delete); how many went. A failure is left to the next
        run: another run may have removed the same event meanwhile."""
        removed = 0
        for event in events:
            for _ in range(1 if event.get("trashed") is True else 2):
                answer = self.call("DELETE", "events/" + event["id"])
                if answer.status != 200:
                    self.lines.append("%s: extra event %s not removed: %s" % (self.label, event["id"], answer.problem()))
                    break
            else:
                removed += 1
        return removed

    def event_of(self, answer, doing):
        event = answer.json.get("event") if isinstance(answer.json, dict) else None
        if not isinstance(event, dict) or "id" not in event:
            raise Failed("refused", "%s: core answered %d without the event: %s" % (
                doing, answer.status, answer.body_excerpt()))
        return self.checked(event, doing)

    def read_back(self, event_id, value, written_at):
        """True when the value round-trips, False when another run wrote a newer value of check_pryv's form meanwhile
        (not a failure: runs from several places at once); else raises Failed."""
        answer = self.call("GET", "events/" + event_id)
        self.read_time = answer.elapsed
        if answer.status != 200:
            raise Failed("differs", "reading the event back failed: %s" % answer.problem())
        event = self.event_of(answer, "reading the event back")
        if "deleted" in event:  # v2 answers a deleted event's id with its tombstone
            raise Failed("differs", "reading the event back: it was deleted meanwhile")
        content, trashed = event.get("content"), event.get("trashed") is True
        if content == value and not trashed and event["id"] == event_id:
            return True
        if not trashed and event["id"] == event_id and is_value(content) and later(event.get("modified"), written_at):
            return False
        read = "a trashed event" if trashed else "'%s'" % one_line(content, 40)
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
    return "the access has %s on stream %s, not contribute or manage" % (
        "'%s'" % one_line(level, 20) if level else "no permission", stream)


class WriteContext(nagiosplugin.Context):
    """OK when the value round-trips; CRITICAL when the core refused, gave back another value, or lost the event."""

    STATES = {"written": nagiosplugin.Ok, "first": nagiosplugin.Ok, "concurrent": nagiosplugin.Ok,
              "skipped": nagiosplugin.Ok}

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
