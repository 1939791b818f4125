"""High-frequency series: `POST` and `GET /events/ID/series`, as open-pryv.io v2's HFS worker answers them behind its
API worker's proxy (components/hfs-server, api-server/src/hfsIngress.ts), and the `hfs` fault: `hung` (a stopped
worker: the call gets no answer), `dead` (the proxy's 502 until the worker is back) and `none` (a platform run with
no HFS worker, `cluster.hfsWorkers: 0`: the proxy's 502, and service/info's `features.noHF: true`)."""

from __future__ import annotations

import json

from .messages import API_VERSION, Reply, meta
from .writes import FORBIDDEN_MESSAGE, SERIES_FIELDS as FIELDS, WRITE_LEVELS, _can


def hfs_error(status, error_id, message, data=None):
    """The HFS worker's error: no `meta`."""
    error = {"id": error_id, "message": message}
    if data is not None:
        error["data"] = data
    return Reply(status, json.dumps({"error": error}).encode(),
                 {"Content-Type": "application/json; charset=utf-8", "API-Version": API_VERSION})


def hfs_reply(body):
    return Reply(200, json.dumps({**body, "meta": meta()}).encode(),
                 {"Content-Type": "application/json; charset=utf-8", "API-Version": API_VERSION})


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Series:
    """The series handlers, mixed into Sandbox: they take (self, request, user, event id)."""

    def _series_event(self, request, user, event_id, levels):
        """(the access, the event) of a series call, or the HFS worker's error Reply."""
        fault = self._faults["hfs"]
        if fault != "ok":  # hung: no answer until the sandbox resets or stops, then the proxy's 502
            return None, Reply(502, json.dumps({"error": {"id": "unexpected-error", "message":
                                                          "HFS upstream unreachable"}}).encode(),
                               {"Content-Type": "application/json"}, hold=fault == "hung")
        token = request.headers.get("Authorization")
        if not token:
            return None, hfs_error(401, "missing-header", 'Missing expected header "authorization"')
        access = next((a for a in user["accesses"] if a["token"] == token), None)
        if access is None:
            return None, hfs_error(403, "invalid-access-token", "Cannot find access from token.")
        event = next((e for e in user["events"] if e["id"] == event_id), None)
        if event is None:
            return None, hfs_error(404, "unknown-resource", 'Unknown event "%s"' % event_id)
        if not _can(access, event["streamIds"], levels):
            return None, hfs_error(403, "forbidden", FORBIDDEN_MESSAGE)
        return access, event

    def _store_series(self, request, user, event_id):
        access, event = self._series_event(request, user, event_id, WRITE_LEVELS)
        if access is None:
            return event
        if event.get("trashed"):
            return hfs_error(400, "invalid-operation", 'The referenced event "%s" is trashed.' % event_id,
                             {"trashedReference": "eventId"})
        body = request.json()
        if not isinstance(body, dict) or body.get("format") != "flatJSON":
            return hfs_error(400, "invalid-request-structure", '"format" field must contain the string "flatJSON".')
        points = body.get("points")
        if body.get("fields") != FIELDS or not isinstance(points, list) or not all(
                isinstance(p, list) and len(p) == 2 and all(is_number(v) for v in p) for p in points):
            return hfs_error(400, "invalid-request-structure", "Malformed request.")
        stored = user.setdefault("series", {}).setdefault(event_id, {})
        if self._faults["storage"] != "loses-writes":  # that storage acknowledges and keeps the old points
            stored.update((delta, value) for delta, value in points)  # a point at the same deltaTime is replaced
        return hfs_reply({"status": "ok"})

    def _query_series(self, request, user, event_id):
        access, event = self._series_event(request, user, event_id, ("read", "contribute", "manage"))
        if access is None:
            return event
        stored = user.setdefault("series", {}).get(event_id, {})
        is_series = event["type"].startswith("series:")
        return hfs_reply({"format": "flatJSON", "fields": FIELDS if is_series else [],
                          "points": [[delta, stored[delta]] for delta in sorted(stored)]})


def series_route(method, path):
    """(handler, event id) for `/events/ID/series`, or None."""
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "events" and parts[2] == "series" and method in ("GET", "POST"):
        return (Series._query_series if method == "GET" else Series._store_series), parts[1]
    return None
