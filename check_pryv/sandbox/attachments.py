"""Event attachments: uploaded (multipart `POST /events/ID`), read with their read token (`GET /events/ID/FILEID`)
and removed (`DELETE /events/ID/FILEID`), as open-pryv.io v2 answers them (api-server/src/routes/events.ts,
middleware/attachment-access.ts), and the `file-storage` fault: `gone` (the user's attachments directory replaced by
a file: every upload and read gets 500 unexpected-error with the file system's ENOTDIR)."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import time

from .core import new_id
from .messages import API_VERSION, Abort, Reply, api_error, json_reply, meta

MISSING_DIRECTORY = "Unexpected error: ENOTDIR: not a directory, %s '/var/pryv/users/%s/attachments/%s'"


def uploaded_files(request):
    """[(file name, media type, bytes)] of a multipart/form-data body; [] for any other body."""
    kind = request.headers.get("Content-Type", "")
    if not kind.lower().startswith("multipart/form-data"):
        return []
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n" + request.body)
    return [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True) or b"")
            for part in message.iter_parts() if part.get_filename()]


class Attachments:
    """The attachments handlers, mixed into Sandbox: they take (self, request, user, event id[, file id]).

    Expects from the Sandbox: _faults, _read_token_key, Writes' _find_event and _writable, Core's _authorize."""

    def _read_token(self, access, file_id):
        """ACCESSID-HMAC, as v2 makes it (utils/src/encryption.ts): valid for this file and this access only."""
        mac = hmac.new(self._read_token_key, (file_id + access["token"]).encode(), hashlib.sha1).digest()
        return "%s-%s" % (access["id"], base64.urlsafe_b64encode(mac).decode().rstrip("="))

    def _storage_gone(self, user, event_id, operation):
        if self._faults["file-storage"] == "gone":
            raise Abort(api_error(500, "unexpected-error", MISSING_DIRECTORY % (operation, user["username"], event_id)))

    def _attach(self, request, user, event_id):
        event = self._find_event(user, event_id)
        access = self._writable(request, user, event["streamIds"], "UPDATE")
        files = uploaded_files(request)
        if files:
            self._storage_gone(user, event_id, "mkdir")
        for name, kind, data in files:
            file_id = new_id()
            lost = self._faults["storage"] == "loses-writes"  # the file is listed, its bytes never written
            user.setdefault("files", {})[file_id] = b"" if lost else data
            event.setdefault("attachments", []).append({
                "id": file_id, "fileName": name, "type": kind, "size": len(data),
                "integrity": "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode(),
                "readToken": self._read_token(access, file_id)})
        event.update(modified=time.time(), modifiedBy=access["id"])
        return json_reply(200, {"event": event, "meta": meta()})

    def _get_attachment(self, request, user, event_id, file_id):
        read_token = request.query.get("readToken")
        if read_token is None:
            access = self._authorize(request, user)
        else:
            access = next((a for a in user["accesses"] if a["id"] == read_token.partition("-")[0]), None)
            if access is None:
                return api_error(500, "unexpected-error", "Unexpected error: Cannot find access from token.")
            if not hmac.compare_digest(read_token, self._read_token(access, file_id)):
                return api_error(401, "invalid-access-token", "Invalid read token.")
            request.access_id = access["id"]
        event = next((e for e in user["events"] if e["id"] == event_id), None)
        if event is None:
            return api_error(404, "unknown-resource", 'Unknown event "%s"' % event_id)
        attachment = next((a for a in event.get("attachments", []) if a["id"] == file_id), None)
        if attachment is None:
            return api_error(404, "unknown-resource", 'Unknown attachment "%s"' % file_id)
        self._storage_gone(user, event_id, "open")
        digest = attachment["integrity"].replace("sha256-", "SHA-256=", 1)
        kind = attachment["type"] + ("; charset=utf-8" if attachment["type"].startswith("text/") else "")  # Express's
        return Reply(200, user["files"][file_id], {
            "Content-Type": kind, "API-Version": API_VERSION, "Digest": digest,
            "Content-Disposition": "attachment; filename*=UTF-8''" + attachment["fileName"]})

    def _delete_attachment(self, request, user, event_id, file_id):
        event = self._find_event(user, event_id)
        access = self._writable(request, user, event["streamIds"], "UPDATE")
        attachment = next((a for a in event.get("attachments", []) if a["id"] == file_id), None)
        if attachment is None:
            return api_error(404, "unknown-resource", 'Unknown attachment "%s"' % file_id)
        event["attachments"].remove(attachment)
        if not event["attachments"]:
            del event["attachments"]
        user["files"].pop(file_id, None)
        event.update(modified=time.time(), modifiedBy=access["id"])
        return json_reply(200, {"event": event, "meta": meta()})


def attachment_route(method, path):
    """(handler, event id[, file id]) for the attachment routes, or None: POST /events/ID (an upload),
    GET /events/ID/FILEID[/FILENAME], DELETE /events/ID/FILEID."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "events" or not parts[1]:
        return None
    if method == "POST" and len(parts) == 2:
        return Attachments._attach, parts[1]
    if method == "GET" and len(parts) in (3, 4):
        return Attachments._get_attachment, parts[1], parts[2]
    if method == "DELETE" and len(parts) == 3:
        return Attachments._delete_attachment, parts[1], parts[2]
    return None
