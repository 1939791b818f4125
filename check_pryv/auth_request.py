"""check_pryv_register --auth-request: can an app start signing in? Loaded only with that option.

`POST https://reg.DOMAIN/access` (DNS-less `https://HOSTNAME/reg/access`) asks, as the app `check-pryv`, for a read
permission on the stream `check-pryv` (check_pryv_core --write's default stream; it need not exist). It is the one
call of the sign-in flow that writes to the platform's database: the platform stores the request and answers
`201 {"status": "NEED_SIGNIN", "key", "poll", ...}`. The poll URL is then read once, expecting NEED_SIGNIN again (it
reads the stored request back), and only when it is on the platform's own host (DNS-less: HOSTNAME; DNS mode:
DOMAIN or a name under it) over the same scheme and port: a poll URL elsewhere is CRITICAL, never followed. Nobody
signs in: the request expires by itself (after an hour on open-pryv.io v2). The request's key, which would let
anyone answer it, is a secret: scrubbed from all output like a token.

States: OK on both NEED_SIGNIN; CRITICAL on anything else (the platform's error id and message: open-pryv.io v2
with its database down answers `500 unexpected-error`), and when a call fails or does not answer within -t.
Perfdata `auth_request_time` (both calls), judged by -w/-c.
"""
from urllib.parse import urljoin, urlsplit

import nagiosplugin

from check_pryv import plugin, probe, secret
from check_pryv.client import DEFAULT_PORT, TransportError, one_line

APP_ID = "check-pryv"
STREAM = "check-pryv"
NEED_SIGNIN = "NEED_SIGNIN"
REQUEST = {"requestingAppId": APP_ID, "languageCode": "en",
           "requestedPermissions": [{"streamId": STREAM, "level": "read", "defaultName": STREAM}]}


def question(args, client, target, certificate_days):
    """The Resource of --auth-request, and the Contexts that judge it."""
    return (AuthRequest(client, target, certificate_days),
            [AuthRequestContext(),
             plugin.TimeContext(args.warning, args.critical, "auth_request_time", "auth request time")])


def on_platform(url, target):
    """Whether `url` is on the platform's own host, scheme and port (DNS mode: the domain or a name under it)."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORT.get(parts.scheme)
    except ValueError:  # an invalid port
        return False
    host = (parts.hostname or "").rstrip(".")
    same_host = (host == target.domain or host.endswith("." + target.domain)) if target.domain else (
        host == target.hostname)
    return parts.scheme == target.scheme and port == target.port and same_host


class AuthRequest(probe.Call):
    """Measures: the sign-in request (its answer as the metric `auth_request`), then its poll when the request
    gave one on the platform's own host."""

    def __init__(self, client, target, certificate_days):
        super().__init__("auth_request", client, target.register_url("access"), certificate_days=certificate_days)
        self.target = target
        self.poll_url = self.poll = None

    def probe(self):
        self.call()
        elapsed = self.outcome.elapsed + (self.poll.elapsed if self.poll else 0)
        yield nagiosplugin.Metric("auth_request", self.outcome, context="auth_request")
        yield nagiosplugin.Metric("auth_request_time", plugin.perf_seconds(elapsed), "s", min=0,
                                  max=self.client.deadline.seconds, context="auth_request_time")
        if self.certificate_days:
            yield from self._certificate_days()

    def call(self):
        try:
            self.outcome = self.client.request("POST", self.url, json_body=REQUEST)
        except TransportError as error:
            self.outcome = error
            return
        body = self.outcome.json if self.outcome.status == 201 else None
        if not isinstance(body, dict) or body.get("status") != NEED_SIGNIN or not isinstance(body.get("poll"), str):
            return
        if isinstance(body.get("key"), str):
            secret.add(body["key"])
        self.poll_url = urljoin(self.url, body["poll"].strip())
        if on_platform(self.poll_url, self.target):
            try:
                self.poll = self.client.request("GET", self.poll_url)
            except TransportError as error:
                self.poll = error

    def details(self):
        lines = super().details()
        if self.poll_url and not self.poll:
            lines.append("poll URL: %s (not followed)" % one_line(self.poll_url, 200))
        return lines + (["poll:"] + self.poll.details() if self.poll else [])


class AuthRequestContext(nagiosplugin.Context):
    """OK when the request and its poll both answer NEED_SIGNIN; CRITICAL on anything else."""

    def __init__(self):
        super().__init__("auth_request")

    def evaluate(self, metric, resource):
        state, text = self.judge(metric.value, resource)
        return self.result_cls(state, text, metric)

    @staticmethod
    def judge(answer, resource):
        if isinstance(answer, TransportError):
            return nagiosplugin.Critical, "auth request: %s" % answer
        if answer.status != 201 or answer.capped:
            return nagiosplugin.Critical, "auth request refused: %s" % answer.problem()
        if resource.poll_url is None:
            return nagiosplugin.Critical, "auth request answered 201 without NEED_SIGNIN and a poll URL: %s" % (
                answer.body_excerpt())
        poll = resource.poll
        if poll is None:
            target = resource.target
            return nagiosplugin.Critical, "auth request's poll URL is not on %s (%s, port %d): not followed (%s)" % (
                target.domain or target.hostname, target.scheme, target.port, one_line(resource.poll_url, 80))
        if isinstance(poll, TransportError):
            return nagiosplugin.Critical, "auth request poll: %s" % poll
        if poll.status not in (200, 201) or poll.capped:
            return nagiosplugin.Critical, "auth request poll answered %s" % poll.problem()
        if not isinstance(poll.json, dict) or poll.json.get("status") != NEED_SIGNIN:
            return nagiosplugin.Critical, "auth request poll answered %d without NEED_SIGNIN: %s" % (
                poll.status, poll.body_excerpt())
        return nagiosplugin.Ok, "auth request answered NEED_SIGNIN, and its poll too (%s)" % plugin.shown_seconds(
            answer.elapsed + poll.elapsed)
