"""check_pryv_register's other questions: the hostings it offers (--hostings), and its service info (--service-info).

Loaded only for those options. Both share the call and its failures with check_username (check_pryv.probe).
"""
from urllib.parse import urlsplit

import nagiosplugin

from check_pryv import options, probe
from check_pryv.client import DEFAULT_PORT, Answer, one_line

REQUIRED_FIELDS = ("name", "api", "register", "access")  # what apps need to find and use the platform
LISTED = 5  # hosting names shown on the first line before "and N more"


def question(args, client, target, certificate_days):
    """The Resource of the question asked, and the Contexts that judge it."""
    if args.hostings:
        return hostings_question(client, target, args.hosting, certificate_days)
    return service_info_question(client, target, certificate_days)


def hostings_question(client, target, selected, certificate_days):
    """/hostings, judged for the hostings `selected` (all when none is)."""
    return (Hostings(client, target.register_url("hostings"), selected, certificate_days),
            [HostingsContext(), CountContext()])


def service_info_question(client, target, certificate_days):
    return ServiceInfo(client, target, certificate_days), [ServiceInfoContext()]


def names(items):
    items = [one_line(item, 40) for item in items]
    shown = ", ".join(items[:LISTED])
    return shown + (" and %d more" % (len(items) - LISTED) if len(items) > LISTED else "") if items else "none"


# ---- --hostings


def read_hostings(body):
    """{name: (available, region, zone, core)} from `{"regions": {R: {"zones": {Z: {"hostings": {H: {...}}}}}}}`,
    or None when the body has another shape. Only `"available": true` counts as available."""
    regions = body.get("regions") if isinstance(body, dict) else None
    if not isinstance(regions, dict):
        return None
    hostings = {}
    for region_id, region in regions.items():
        zones = region.get("zones") if isinstance(region, dict) else None
        if not isinstance(zones, dict):
            return None
        for zone_id, zone in zones.items():
            listed = zone.get("hostings") if isinstance(zone, dict) else None
            if not isinstance(listed, dict):
                return None
            for name, hosting in listed.items():
                hosting = hosting if isinstance(hosting, dict) else {}
                hostings[name] = (hosting.get("available") is True, region_id, zone_id, hosting.get("availableCore"))
    return hostings


class Hostings(probe.Call):
    """Measures: the hostings the register lists, and how many of those judged are available."""

    def __init__(self, client, url, selected, certificate_days):
        super().__init__("hostings", client, url, certificate_days=certificate_days)
        self.selected = list(dict.fromkeys(selected))
        self.listed = None

    def read(self):
        if isinstance(self.outcome, Answer) and self.outcome.status == 200 and not self.outcome.capped:
            self.listed = read_hostings(self.outcome.json)

    def probe(self):
        yield from super().probe()
        if self.listed is None:
            return
        judged = self.selected or list(self.listed)
        available = sum(1 for name in judged if name in self.listed and self.listed[name][0])
        yield nagiosplugin.Metric("hostings_available", available, min=0, max=len(judged), context="hostings_count")
        yield nagiosplugin.Metric("hostings_total", len(judged), min=0, context="hostings_count")

    def details(self):
        lines = super().details()
        for name, (available, region, zone, core) in sorted((self.listed or {}).items()):
            lines.append("hosting %s: %s (region %s, zone %s%s)%s" % (
                one_line(name, 60), "available" if available else "not available", one_line(region, 40),
                one_line(zone, 40), ", core %s" % one_line(core, 100) if core and isinstance(core, str) else "",
                "" if not self.selected or name in self.selected else " not judged"))
        return lines


class HostingsContext(probe.AnswerContext):
    """Judges the hostings: OK all available, WARNING some not, CRITICAL none, or one asked for not listed."""

    expected = "a hostings list"

    def __init__(self):
        super().__init__("hostings")

    def judge(self, answer, resource):
        listed = resource.listed
        if listed is None:
            return None
        missing = [name for name in resource.selected if name not in listed]
        if missing:
            return nagiosplugin.Critical, "register does not list hosting%s %s; it lists: %s" % (
                "s" * (len(missing) > 1), names(missing), names(sorted(listed)))
        judged = resource.selected or sorted(listed)
        if not judged:
            return nagiosplugin.Critical, "register lists no hosting"
        down = [name for name in judged if not listed[name][0]]
        text = "%d of %d hosting%s available" % (len(judged) - len(down), len(judged), "s" * (len(judged) > 1))
        if not down:
            return nagiosplugin.Ok, text
        state = nagiosplugin.Critical if len(down) == len(judged) else nagiosplugin.Warn
        return state, "%s; not available: %s" % (text, names(down))


class CountContext(nagiosplugin.Context):
    """Perfdata only (HostingsContext judges): `hostings_available` shows the limits it applies."""

    def __init__(self):
        super().__init__("hostings_count")

    def evaluate(self, metric, resource):
        return self.result_cls(nagiosplugin.Ok, None, metric)

    def performance(self, metric, resource):
        if metric.name == "hostings_available":  # WARNING below all of them, CRITICAL below one
            return nagiosplugin.Performance(metric.name, metric.value, "", "%d:" % metric.max, "1:", 0, metric.max)
        return nagiosplugin.Performance(metric.name, metric.value, "", "", "", 0)


# ---- --service-info


# What a service-info URL may hold for Python's urlsplit and the apps' WHATWG URL parser (Node, browsers) to read
# the same scheme, host, port and path: a backslash, user info, percent-escapes, white space, a query or dot
# segments are read differently by one of them (`http://evil.example\@127.0.0.1/` is host 127.0.0.1 for Python,
# evil.example for apps).
AUTHORITY_CHARACTERS = options.ALNUM | set(".-_{}[]:")
PATH_CHARACTERS = options.ALNUM | set("-._~!$&'()*+,;=:@/{}")
MAX_URL = 2048


def unlike_apps(url):
    """Why apps may read `url` otherwise than this plugin does, or None when they read it alike."""
    if "\\" in url:
        return "a backslash, which apps read as /"
    scheme, separator, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        return "user info before the host"
    if (scheme.lower() not in DEFAULT_PORT or not separator or len(url) > MAX_URL
            or not options.made_of(authority, AUTHORITY_CHARACTERS, MAX_URL)
            or path and not options.made_of(path, PATH_CHARACTERS, MAX_URL)):
        return "characters apps may read otherwise"
    if any(segment in (".", "..") for segment in path.split("/")):
        return "a dot segment, which apps remove"
    return None


def same_url(found, expected, check_port):
    """Whether `found` is `expected`, up to the case of the host, a trailing slash, and a port that is the scheme's
    default or the one the check uses (a platform may write its URLs with or without it); a URL that apps may read
    otherwise (unlike_apps) is never the same."""
    if unlike_apps(found):
        return False
    try:
        found, expected = urlsplit(found), urlsplit(expected)
        port = found.port or DEFAULT_PORT.get(found.scheme.lower())
    except ValueError:  # an invalid port
        return False
    return (found.scheme.lower() == expected.scheme and (found.hostname or "").rstrip(".") == expected.hostname
            and found.path.rstrip("/") == expected.path.rstrip("/")
            and port in (check_port, DEFAULT_PORT[expected.scheme]))


class ServiceInfo(probe.Call):
    """Measures: the register's service info; knows what its api and register URLs should be."""

    def __init__(self, client, target, certificate_days):
        super().__init__("service_info", client, target.register_url("service/info"),
                         certificate_days=certificate_days)
        self.platform, self.port = target.domain or target.hostname, target.port
        self.expected = {"api": target.api_template(), "register": target.register_url("")}

    def details(self):
        lines = super().details()
        info = self.outcome.json if isinstance(self.outcome, Answer) else None
        for field in REQUIRED_FIELDS + ("version",):
            if isinstance(info, dict) and field in info:
                lines.append("%s: %s" % (field, one_line(info[field], 200)))
            if field in self.expected:
                lines.append("%s expected: %s" % (field, self.expected[field]))
        return lines


def field_url(field, url):
    """`register URL`, and why apps may read it otherwise when they may."""
    why = unlike_apps(url)
    return "%s %s" % (field, one_line(url, 100)) + (" (%s)" % why if why else "")


class ServiceInfoContext(probe.AnswerContext):
    """Judges service/info: its required fields, and its api and register URLs against the platform checked."""

    expected = "service info"

    def __init__(self):
        super().__init__("service_info")

    def judge(self, answer, resource):
        info = answer.json
        if not isinstance(info, dict) or not any(field in info for field in REQUIRED_FIELDS):
            return None
        lacking = [field for field in REQUIRED_FIELDS
                   if not isinstance(info.get(field), str) or not info[field].strip()]
        name = "(no name)" if "name" in lacking else "'%s'" % one_line(info["name"], 60)
        version = info.get("version")
        if isinstance(version, str) and version.strip():
            name += " (version %s)" % one_line(version, 40)
        if lacking:
            return nagiosplugin.Critical, "service info of %s lacks %s" % (name, ", ".join(lacking))
        wrong = [field_url(field, info[field]) for field, expected in resource.expected.items()
                 if not same_url(info[field], expected, resource.port)]
        if wrong:
            return nagiosplugin.Critical, "service info of %s does not match %s: %s" % (
                name, resource.platform, ", ".join(wrong))
        return nagiosplugin.Ok, "service info of %s matches %s" % (name, resource.platform)
