"""check_pryv_core --attachment: the platform stores files (event attachments) and serves them back.

After the events call, on the health account's core (as open-pryv.io v2 takes them), on the check event, the one
`note/txt` event of the check stream (--write-stream, default `check-pryv`) that --write updates too (created by
the first run when missing, with the stream; restored when someone trashed it):

1. `POST /events/ID` with a multipart body whose file part holds a few fresh bytes: the answer's
   `event.attachments` must list one of that size whose `integrity` is their `sha256-BASE64`;
2. `GET /events/ID/FILEID?readToken=READTOKEN`, without the access token, as an app's link reads it: the same bytes;
3. `DELETE /events/ID/FILEID` of every other attachment of the event: at most two exist at any time (one between
   the upload and the removal of the one before).

The read token is a secret, scrubbed from every output like the access token. States: OK when the bytes
round-trip; CRITICAL when a call is refused (the platform's error id and message: storage gone gives `500
unexpected-error` with the file system's `ENOTDIR ...`), when the bytes read back or the size or integrity the
platform recorded differ, when a call does not answer in time, and when someone trashed the event (restored, and
said). Perfdata `attachment_time`: the upload, the read and the removal, in seconds.
"""
import base64
import hashlib
import os
import time
from urllib.parse import quote

import nagiosplugin

from check_pryv import plugin, secret, write

METRIC = "attachment"
FILE_NAME = "check_pryv.txt"


class AttachmentPath(write.WritePath):
    """Measures the file storage: uploads fresh bytes to the check event, reads them back, removes the old file."""

    metric, label = METRIC, "attachment"
    # event_type: the write path's, whose event this is

    def __init__(self, *args):
        super().__init__(*args)
        self.attachment_time = 0.0

    def round_trip(self):
        data = ("check_pryv %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                        os.urandom(8).hex())).encode()
        integrity = "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()
        self.step = "finding the event"
        event_id, kind = self.check_event("check_pryv attachment test")
        path = "events/" + quote(event_id, safe="")
        self.step = "uploading"
        answer = self.timed("POST", path, files={"file": (FILE_NAME, data, "text/plain")})
        if answer.status != 200:
            raise write.Failed("refused", "upload refused: %s" % answer.problem())
        attachments = self.event_of(answer, "upload").get("attachments")
        attachments = attachments if isinstance(attachments, list) else []
        mine = [a for a in attachments if isinstance(a, dict) and a.get("integrity") == integrity
                and a.get("size") == len(data) and isinstance(a.get("id"), str) and isinstance(a.get("readToken"), str)]
        if not mine:
            raise write.Failed("differs", "the upload's answer lists no attachment of %d bytes with their sha256 "
                                          "and a read token" % len(data))
        secret.add(mine[0]["readToken"])
        file_path = "%s/%s" % (path, quote(mine[0]["id"], safe=""))
        self.step = "reading it back"
        answer = self.timed("GET", "%s?readToken=%s" % (file_path, quote(mine[0]["readToken"], safe="")), auth=False)
        if answer.status != 200:
            raise write.Failed("differs", "reading it back with its read token failed: %s" % answer.problem())
        if answer.body != data:
            raise write.Failed("differs", "read-back differs: uploaded %d bytes, read %d%s" % (
                len(data), len(answer.body), " other ones" if len(answer.body) == len(data) else ""))
        self.step = "removing the previous one"
        for old in attachments:
            if old is not mine[0] and isinstance(old, dict) and isinstance(old.get("id"), str):
                answer = self.timed("DELETE", "%s/%s" % (path, quote(old["id"], safe="")))
                if answer.status != 200:
                    raise write.Failed("refused", "removing the previous attachment refused: %s" % answer.problem())
        if kind == "restored":
            return write.Outcome(kind, "attachment: the event of stream %s was trashed by someone: restored"
                                 % self.stream)
        return write.Outcome("written", "attachment read back")

    def timed(self, method, path, **kwargs):
        answer = self.call(method, path, **kwargs)
        self.attachment_time += answer.elapsed
        return answer

    def said(self, text):
        return "attachment: " + text

    def times(self):
        if self.attachment_time:
            yield nagiosplugin.Metric("attachment_time", plugin.perf_seconds(self.attachment_time), "s", min=0,
                                      context="attachment_time")


def resource(client, target, username, token, args, events_read):
    """The file storage path, as check_core runs its parts (check_core.PARTS)."""
    return AttachmentPath(client, target, username, token, args.write_stream, events_read)


def contexts(args):
    """The outcome, judged as the write path's is, and attachment_time (perfdata)."""
    return [write.WriteContext(METRIC), plugin.TimeContext(None, None, "attachment_time", "attachment time")]
