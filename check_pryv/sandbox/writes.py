"""The core's writes: streams and events created, updated, read back and deleted, as open-pryv.io v2 answers them,
and the `storage=read-only` fault (a database that refuses every write while reads still work)."""

from __future__ import annotations

import json
import re
import time

from .core import integrity, new_id
from .messages import Abort, api_error, invalid_parameters, item_exists, json_reply, meta

EVENT_TYPE_RE = re.compile(r"(series:)?[a-z0-9-]+/[a-z0-9-]+")
TYPES_RE = re.compile(r"(series:)?[a-z0-9-]+/(\*|[a-z0-9-]+)")  # events.get's types
# What open-pryv.io v2 answers when its PostgreSQL is read-only (measured with default_transaction_read_only on):
# the database's exception becomes a 500 unexpected-error carrying its message; events go through the data store.
READ_ONLY_MESSAGE = "Unexpected error: cannot execute %s in a read-only transaction"
DATA_STORE = 'Error from data store "local": '
# v2's answer to an update of an event deleted for good (its tombstone has no streamIds): a crash of the method
DELETED_UPDATE_MESSAGE = "Unexpected error: Cannot read properties of undefined (reading 'length')"
SERIES_FIELDS = ["deltaTime", "value"]  # a series:CLASS/FORMAT event's, for one number per point
FORBIDDEN_MESSAGE = "The given token's access permissions do not allow this operation."
WRITE_LEVELS = ("contribute", "manage")


def _can(access, stream_ids, levels):
    """Whether the access holds one of `levels` on one of the streams (or on `*`); a personal access can all."""
    if access["type"] == "personal":
        return True
    return any(p["level"] in levels and (p["streamId"] == "*" or p["streamId"] in stream_ids)
               for p in access["permissions"])


class Writes:
    """Streams and events handlers, mixed into Sandbox: they take (self, request, user[, event id]).

    Expects from the Sandbox: _faults and Core's _authorize()."""

    def _writable(self, request, user, stream_ids, statement, levels=WRITE_LEVELS, store=DATA_STORE):
        """The access, once it may write to those streams and the storage takes the SQL `statement`; else Abort."""
        access = self._authorize(request, user)
        if not _can(access, stream_ids, levels):
            raise Abort(api_error(403, "forbidden", FORBIDDEN_MESSAGE))
        if self._faults["storage"] == "read-only":
            raise Abort(api_error(500, "unexpected-error", store + READ_ONLY_MESSAGE % statement))
        return access

    def _events_filtered(self, request, user, events):
        """GET /events' `streams` (a JSON array of ids), `types` (one type, or CLASS/*) and `state` (default, trashed,
        all) parameters."""
        state = request.query.get("state", "default")
        if state not in ("default", "trashed", "all"):
            raise Abort(invalid_parameters("state"))
        if state != "all":
            events = [e for e in events if bool(e.get("trashed")) == (state == "trashed")]
        kind = request.query.get("types")
        if kind is not None:
            if not TYPES_RE.fullmatch(kind):
                raise Abort(invalid_parameters("types"))
            events = [e for e in events if e["type"] == kind or kind.endswith("/*") and e["type"].startswith(kind[:-1])]
        if "streams" not in request.query:
            return events
        try:
            wanted = json.loads(request.query["streams"])
        except ValueError:
            wanted = [request.query["streams"]]
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(wanted, list) or not all(isinstance(s, str) for s in wanted):
            raise Abort(invalid_parameters("streams"))
        unknown = [s for s in wanted if s != "*" and s not in user.setdefault("streams", {})]
        if unknown:
            raise Abort(api_error(400, "unknown-referenced-resource", 'Unknown referenced stream%s "%s"' % (
                "s" * (len(unknown) > 1), '", "'.join(unknown)), {"streams": unknown}))
        return [e for e in events if "*" in wanted or set(wanted) & set(e["streamIds"])]

    def _create_stream(self, request, user):
        body = request.json()
        body = body if isinstance(body, dict) else {}
        stream_id, name = body.get("id", new_id()), body.get("name")
        bad = [param for param, valid in (("id", isinstance(stream_id, str) and stream_id != ""),
                                          ("name", isinstance(name, str) and name != "")) if not valid]
        if bad:
            return invalid_parameters(*bad)
        access = self._writable(request, user, [stream_id], "INSERT", ("manage",), store="")
        streams = user.setdefault("streams", {})
        if stream_id in streams:
            return item_exists("stream", {"id": stream_id})
        now = time.time()
        stream = {"id": stream_id, "name": name, "parentId": None, "created": now, "createdBy": access["id"],
                  "modified": now, "modifiedBy": access["id"]}
        streams[stream_id] = stream
        return json_reply(201, {"stream": stream, "meta": meta()})

    def _create_event(self, request, user):
        body = request.json()
        body = body if isinstance(body, dict) else {}
        stream_ids, kind = body.get("streamIds"), body.get("type")
        bad = [param for param, valid in (
            ("streamIds", isinstance(stream_ids, list) and stream_ids and all(isinstance(s, str) for s in stream_ids)),
            ("type", isinstance(kind, str) and EVENT_TYPE_RE.fullmatch(kind))) if not valid]
        if bad:
            return invalid_parameters(*bad)
        unknown = [s for s in stream_ids if s not in user.setdefault("streams", {})]
        if unknown:
            return api_error(400, "unknown-referenced-resource", 'Unknown referenced stream "%s"'
                             % '", "'.join(unknown), {"streamIds": unknown})
        access = self._writable(request, user, stream_ids, "INSERT")
        now = time.time()
        event = {"id": new_id(), "time": body.get("time", now), "streamIds": stream_ids, "type": kind,
                 "content": body.get("content"), "created": now, "createdBy": access["id"],
                 "modified": now, "modifiedBy": access["id"]}
        if kind.startswith("series:"):  # the platform writes a series event's content (methods/events.ts)
            if event["content"] is not None:
                return invalid_parameters("content")
            event["content"] = {"elementType": kind[len("series:"):], "fields": SERIES_FIELDS,
                                "required": SERIES_FIELDS}
        event["integrity"] = integrity("EVENT", event)
        user["events"].append(event)
        return json_reply(201, {"event": event, "meta": meta()})

    def _find_event(self, user, event_id):
        event = next((e for e in user["events"] if e["id"] == event_id), None)
        if event_id in user.setdefault("deletions", {}):
            raise Abort(api_error(500, "unexpected-error", DELETED_UPDATE_MESSAGE))
        if event is None:
            raise Abort(api_error(404, "unknown-resource", 'Unknown event "%s"' % event_id))
        return event

    def _get_event(self, request, user, event_id):
        access = self._authorize(request, user)
        deleted = user.setdefault("deletions", {}).get(event_id)
        if deleted is not None:  # v2 keeps a tombstone, and shows it
            return json_reply(200, {"event": {"id": event_id, "deleted": deleted}, "meta": meta()})
        event = self._find_event(user, event_id)
        if not _can(access, event["streamIds"], ("read", "contribute", "manage")):
            return api_error(403, "forbidden", FORBIDDEN_MESSAGE)
        return json_reply(200, {"event": event, "meta": meta()})

    def _update_event(self, request, user, event_id):
        event = self._find_event(user, event_id)
        update = request.json()
        if not isinstance(update, dict) or set(update) - {"content", "trashed", "time", "type", "description"}:
            return invalid_parameters("update")
        access = self._writable(request, user, event["streamIds"], "UPDATE")
        # loses-writes: a storage that acknowledges an update and keeps the old value (a lost write cache)
        updated = dict(event) if self._faults["storage"] == "loses-writes" else event
        updated.update(update, modified=time.time(), modifiedBy=access["id"])
        if updated.get("trashed") is False:
            del updated["trashed"]  # the real server shows the flag only when it is set
        return json_reply(200, {"event": updated, "meta": meta()})

    def _delete_event(self, request, user, event_id):
        """The first delete moves the event to the trash; a second one deletes it for good."""
        event = self._find_event(user, event_id)
        access = self._writable(request, user, event["streamIds"], "UPDATE")
        if not event.get("trashed"):
            event.update(trashed=True, modified=time.time(), modifiedBy=access["id"])
            return json_reply(200, {"event": event, "meta": meta()})
        user["events"].remove(event)
        user["deletions"][event_id] = time.time()
        return json_reply(200, {"eventDeletion": {"id": event_id}, "meta": meta()})


WRITE_ROUTES = {
    ("POST", "/streams"): Writes._create_stream,
    ("POST", "/events"): Writes._create_event,
}
EVENT_ROUTES = {  # /events/ID
    "GET": Writes._get_event,
    "PUT": Writes._update_event,
    "DELETE": Writes._delete_event,
}


def event_route(method, path):
    """(handler, event id) for `/events/ID`, or None."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "events" and parts[1] and method in EVENT_ROUTES:
        return EVENT_ROUTES[method], parts[1]
    return None
