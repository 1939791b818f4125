"""What the HTTP plugins share around their one call to the platform.

`Call` makes the call and measures it: its outcome (an Answer, or the TransportError that stopped it) as the
metric named after the question asked, its time, and with --certificate-days the days left on the certificate
that the server presented in the TLS handshake of that very call. `AnswerContext` judges an outcome in the
words every question shares (the call failed, another status than 200, a 200 without the expected body);
`CertificateContext` judges the days left.
"""
import math
from urllib.parse import urlsplit

import nagiosplugin

from check_pryv import options, plugin
from check_pryv.client import Client, Target, TransportError


def platform(args, deadline):
    """The platform's URLs, and a client to call it, from the platform and connection options."""
    target = Target(domain=args.domain, hostname=args.hostname, scheme=args.scheme, port=args.port)
    if args.address:
        options.of_family([args.address], args.family, "--address")
    problem = options.proxy_problem(args)
    if problem:
        raise options.UsageError(problem)
    return target, Client(deadline, args.tls, address=args.address, family=args.family, proxy=args.proxy)


def phase_contexts(extended_perfdata, call):
    """--extended-perfdata: has the Call yield its phases, and gives their context (perfdata only, no threshold)."""
    call.extended_perfdata = extended_perfdata
    return [plugin.TimeContext(None, None, "phase", "phase")] if extended_perfdata else []


def tenths(days):
    """Days cut to whole tenths (10.49 is 10.4: what is surely left), yet never 0 once expired (-0.01 is -0.1)."""
    if days >= 0:
        return math.floor(days * 10) / 10
    return min(-0.1, math.ceil(days * 10) / 10)


class Call(nagiosplugin.Resource):
    """Measures one GET: its outcome as the metric `question`, its time, and when asked the certificate's days left."""

    # --extended-perfdata, set by the plugins that have it: the phases of the call as perfdata
    extended_perfdata = False
    # the metrics, besides `question`, whose words follow the question's on an OK line (plugin.Summary's parts)
    parts = ()

    def __init__(self, question, client, url, headers=None, certificate_days=False):
        self.question, self.client, self.url = question, client, url
        self.headers, self.certificate_days = headers, certificate_days
        self.outcome = self.certificate = self.certificate_error = None

    def probe(self):
        self.call()
        self.read()  # before the first metric: nagiosplugin judges each one as it comes
        yield nagiosplugin.Metric(self.question, self.outcome, context=self.question)
        yield nagiosplugin.Metric("time", plugin.perf_seconds(self.outcome.elapsed), "s", min=0,
                                  max=self.client.deadline.seconds, context="time")
        if self.extended_perfdata:
            for label, seconds in getattr(self.outcome, "phases", {}).items():
                # cut, not rounded, to perfdata's 0.1 ms: the phases never add up to more than `time`
                yield nagiosplugin.Metric(label, math.floor(seconds * 10000) / 10000, "s", min=0, context="phase")
        if self.certificate_days:
            yield from self._certificate_days()

    def call(self):
        """Make the GET: its outcome is the Answer, or the TransportError that stopped it."""
        try:
            self.outcome = self.client.request("GET", self.url, headers=self.headers)
        except TransportError as error:
            self.outcome = error

    def read(self):
        """What a question reads off its outcome for its context, once the call is over."""

    def _certificate_days(self):
        der = getattr(self.outcome, "peer_certificate", None)
        if der is None:  # no answer: the call's own metric says what stopped it
            return
        from check_pryv import certificate  # only --certificate-days reads the DER

        try:
            self.certificate = certificate.parse(der)
        except ValueError as error:
            self.certificate_error = str(error)
            yield nagiosplugin.Metric("certificate_days", None, context="certificate_days")
            return
        yield nagiosplugin.Metric("certificate_days", tenths(self.certificate.days_left()), context="certificate_days")

    def details(self):
        """Long output: the call's details, then the certificate's when it was asked for."""
        lines = self.outcome.details()
        if self.certificate:
            lines += self.certificate.lines()
        elif self.certificate_error:
            lines.append("certificate: not read (%s)" % self.certificate_error)
        return lines


class AnswerContext(nagiosplugin.Context):
    """Judges the outcome of a Call: CRITICAL when the call failed, on another status than 200, and on a 200
    without `expected` (in words); `judge(answer, resource)` returns (state, text) for a 200, or None."""

    who = "register"
    expected = "the expected body"

    def evaluate(self, metric, resource):
        answer = metric.value
        if isinstance(answer, TransportError):
            return self.result_cls(nagiosplugin.Critical, str(answer), metric)
        if answer.status == 200 and not answer.capped:
            verdict = self.judge(answer, resource)
            if verdict:
                return self.result_cls(verdict[0], verdict[1], metric)
            return self.result_cls(nagiosplugin.Critical, "%s answered 200 without %s: %s" % (
                self.who, self.expected, answer.body_excerpt()), metric)
        return self.result_cls(nagiosplugin.Critical, self.problem(answer), metric)

    def judge(self, answer, resource):
        raise NotImplementedError

    def problem(self, answer):
        """Any other status (or a body over the cap), in a few words."""
        return "%s answered %s" % (self.who, answer.problem())


class CertificateContext(nagiosplugin.Context):
    """Days left on the server's certificate, like check_http -C: WARNING below `warning` days, CRITICAL below
    `critical` (0 by default: once expired). Perfdata `certificate_days=87.3;30:;14:`."""

    def __init__(self, warning, critical):
        super().__init__("certificate_days")
        self.warning, self.critical = warning, critical

    def evaluate(self, metric, resource):
        days = metric.value
        if days is None:  # the TLS library took it, our reader did not: nothing to judge
            return self.result_cls(nagiosplugin.Unknown, "certificate not readable: %s"
                                   % resource.certificate_error, metric)
        state = (nagiosplugin.Critical if days < self.critical else nagiosplugin.Warn if days < self.warning
                 else nagiosplugin.Ok)
        # in every state: a certificate service's status line starts with it (plugin.Summary)
        host, date = urlsplit(resource.url).hostname, resource.certificate.not_after.strftime("%Y-%m-%d")
        if days < 0:
            return self.result_cls(state, "certificate of %s expired %s days ago (%s)" % (
                host, plugin.plain(-days), date), metric)
        return self.result_cls(state, "certificate of %s valid for %s days (until %s)" % (
            host, plugin.plain(days), date), metric)

    def performance(self, metric, resource):
        if metric.value is None:
            return None
        return nagiosplugin.Performance("certificate_days", plugin.plain(metric.value), "",
                                        plugin.plain(self.warning) + ":", plugin.plain(self.critical) + ":")
