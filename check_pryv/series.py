"""check_pryv_core --series: the platform stores and serves high-frequency series (its HFS worker), not only events.

After the events call, on the health account's core (as open-pryv.io v2 takes them; its API worker hands the series
calls to the HFS worker):

1. `GET /events?streams=["STREAM"]&types=series:mass/kg&state=all&limit=1` finds the one series event of the check
   stream (--write-stream, default `check-pryv`); the first run creates it (`POST /events {streamIds, type}`, and
   the stream with the check event of --write when missing), and one trashed by someone is restored;
2. `POST /events/ID/series {"format": "flatJSON", "fields": ["deltaTime", "value"], "points": [[0, VALUE]]}` writes
   a fresh value at deltaTime 0: the platform replaces the point there, so the series holds one point for ever;
3. `GET /events/ID/series` reads it back: the point at deltaTime 0 must hold that value.

States: OK when the value round-trips; CRITICAL when a call is refused (the platform's error id and message: a dead
HFS worker gives `502 unexpected-error: HFS upstream unreachable`), when the value read back differs, when a call
does not answer before the deadline (a hung HFS worker: the message names the step and the stage), and when someone
trashed the event (restored, and said). Perfdata `series_time`: the two series calls, in seconds.
"""
import os
from urllib.parse import quote

import nagiosplugin

from check_pryv import plugin, write
from check_pryv.client import one_line

METRIC = "series"
EVENT_TYPE = "series:mass/kg"  # a number per point: a type of Pryv's standard list, which every platform knows
FIELDS = ["deltaTime", "value"]


class SeriesPath(write.WritePath):
    """Measures the series path: writes a fresh point to the check stream's series event, reads it back."""

    metric, label, event_type = METRIC, "series", EVENT_TYPE

    def __init__(self, *args):
        super().__init__(*args)
        self.series_time = 0.0

    def round_trip(self):
        value = int.from_bytes(os.urandom(3), "big") / 1000  # up to 16777.215: exact through JSON and the database
        self.step = "finding the series event"
        event_id, kind = self.check_event()
        path = "events/%s/series" % quote(event_id, safe="")
        self.step = "writing the point"
        answer = self.call("POST", path, {"format": "flatJSON", "fields": FIELDS, "points": [[0, value]]})
        self.series_time += answer.elapsed
        if answer.status != 200:
            raise write.Failed("refused", "writing the point refused: %s" % answer.problem())
        self.step = "reading the point back"
        answer = self.call("GET", path)
        self.series_time += answer.elapsed
        if answer.status != 200:
            raise write.Failed("differs", "reading the point back failed: %s" % answer.problem())
        read = point_at_zero(answer.json)
        if read != value:
            raise write.Failed("differs", "read-back differs: wrote %s, read %s" % (value, read))
        if kind == "restored":
            return write.Outcome(kind, "series: the event of stream %s was trashed by someone: restored" % self.stream)
        if kind != "written":  # a first run, or someone deleted it: a new series event, nothing to warn about
            return write.Outcome("first", "series: event created in stream %s, point read back" % self.stream)
        return write.Outcome("written", "series point read back")

    def said(self, text):
        return "series: " + text

    def times(self):
        if self.series_time:
            yield nagiosplugin.Metric("series_time", plugin.perf_seconds(self.series_time), "s", min=0,
                                      context="series_time")


def point_at_zero(body):
    """The value of the point at deltaTime 0 in a flatJSON answer, or a few words on what came instead."""
    if not isinstance(body, dict) or body.get("fields") != FIELDS or not isinstance(body.get("points"), list):
        return "no flatJSON series (%s)" % one_line(body, 60)
    values = [point[1] for point in body["points"] if isinstance(point, list) and len(point) == 2 and point[0] == 0]
    return values[0] if values else "no point at deltaTime 0"


def resource(client, target, username, token, args, events_read):
    """The series path, as check_core runs its parts (check_core.PARTS)."""
    return SeriesPath(client, target, username, token, args.write_stream, events_read)


def contexts(args):
    """The outcome, judged as the write path's is, and series_time (perfdata)."""
    return [write.WriteContext(METRIC), plugin.TimeContext(None, None, "series_time", "series time")]
