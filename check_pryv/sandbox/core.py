"""The cores: accounts, accesses, events and login, as open-pryv.io answers them."""

from __future__ import annotations

import re
import secrets
import string
import time
from urllib.parse import urlsplit

from .messages import Abort, api_error, invalid_parameters, item_exists, json_reply, meta

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{3,58}[a-z0-9]")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
RESERVED_WORDS = frozenset({"admin", "administrator", "healthcheck", "register", "registry",
                            "support", "system", "pryvio"})
PERMISSION_LEVELS = ("read", "contribute", "manage", "create-only")
LOGIN_FIELDS = ("appId", "password", "username")
ID_ALPHABET = string.ascii_lowercase + string.digits
MISSING_TOKEN = ('The access token is missing: expected an "Authorization" header or an "auth" '
                 "query string parameter.")
UNTRUSTED_APP = 'The app id ("appId") is either missing or not trusted.'


def is_text(value, shortest, longest):
    return isinstance(value, str) and shortest <= len(value) <= longest


def matches(regex, value):
    return isinstance(value, str) and regex.fullmatch(value) is not None


def new_id():
    """A cuid-like id, as Pryv uses for ids and tokens."""
    return "c" + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))


def _expired(access, now):
    return access.get("expires") is not None and access["expires"] <= now


class Core:
    """The accounts' data and the core's handlers, mixed into Sandbox: handlers take (self, request, user).

    Expects from the Sandbox: _users, _faults, token (the health token), session_ttl, username, domain,
    hostname, scheme and _api_endpoint()."""

    # -- data

    def _user(self, name):
        if name == self.username and self._faults["account"] == "gone":
            return None
        return self._users.get(name)

    def _email_taken(self, email):
        return any(user["email"].lower() == email.lower() for user in self._users.values())

    def _add_user(self, name, password, email, language):
        user = {"username": name, "password": password, "email": email, "language": language,
                "accesses": [], "sessions": {}, "events": []}
        self._users[name] = user
        return user

    def _add_access(self, user, kind, name, permissions, created_by, token=None, expires=None, device_name=None):
        now = time.time()
        access = {"id": new_id(), "token": token or new_id(), "type": kind, "name": name,
                  "permissions": permissions, "created": now, "createdBy": created_by,
                  "modified": now, "modifiedBy": created_by}
        if device_name is not None:
            access["deviceName"] = device_name
        if expires is not None:
            access["expires"] = expires
        if kind == "personal":
            user["sessions"][access["token"]] = now + self.session_ttl
        user["accesses"].append(access)
        return access

    # -- account creation: core's POST /users, also the register's

    def _create_user(self, request, _):
        """Core's POST /users (also the register's /users, and DNS-less /reg/user)."""
        body = request.json()
        body = body if isinstance(body, dict) else {}
        app_id = body.get("appId", body.get("appid"))
        username, email, password = body.get("username"), body.get("email"), body.get("password")
        language = body.get("language", "en")
        bad = [param for param, valid in (("appId", is_text(app_id, 1, 99)),
                                          ("username", matches(USERNAME_RE, username)),
                                          ("password", is_text(password, 6, 100)),
                                          ("email", matches(EMAIL_RE, email)),
                                          ("language", is_text(language, 1, 5))) if not valid]
        if bad:
            return invalid_parameters(*bad)
        conflicts = {}
        if username in RESERVED_WORDS or self._user(username) is not None:
            conflicts["username"] = username
        if self._email_taken(email):
            conflicts["email"] = email
        if conflicts:
            return item_exists("user", conflicts)
        user = self._add_user(username, password, email, language)
        personal = self._add_access(user, "personal", app_id, [], created_by="system")
        return json_reply(201, {"username": username, "meta": meta(),
                                "apiEndpoint": self._api_endpoint(request, username, personal["token"])})

    # -- core handlers: (self, request, user)

    def _authorize(self, request, user):
        """The access of the request's token, or Abort with the error core gives."""
        token = request.token()
        if not token:
            raise Abort(api_error(401, "invalid-access-token", MISSING_TOKEN))
        access = next((a for a in user["accesses"] if a["token"] == token), None)
        health_fault = self._faults["token"] if token == self.token else "ok"
        if access is None or health_fault == "rejected":
            raise Abort(api_error(403, "invalid-access-token", "Cannot find access from token."))
        request.access_id = access["id"]
        now = time.time()
        if _expired(access, now) or health_fault == "expired":
            raise Abort(api_error(403, "forbidden", "Access has expired."))
        if access["type"] == "personal":
            if user["sessions"].get(token, 0) <= now:
                raise Abort(api_error(403, "invalid-access-token", "Access session has expired."))
            user["sessions"][token] = now + self.session_ttl
        return access

    def _with_endpoint(self, request, user, access):
        return {**access, "apiEndpoint": self._api_endpoint(request, user["username"], access["token"])}

    def _events(self, request, user):
        access = self._authorize(request, user)
        limit = request.query.get("limit", "20")
        if not (limit.isascii() and limit.isdigit()):
            return invalid_parameters("limit")
        streams = {p["streamId"] for p in access["permissions"] if p["level"] != "create-only"}
        readable = [event for event in user["events"]
                    if access["type"] == "personal" or "*" in streams or streams & set(event["streamIds"])]
        readable = self._events_filtered(request, user, readable)
        events = sorted(readable, key=lambda event: event["time"], reverse=True)[:int(limit)]
        return json_reply(200, {"events": events, "meta": meta()}, chunked=True)

    def _login(self, request, user):
        body = request.json()
        if not isinstance(body, dict):
            return invalid_parameters(*LOGIN_FIELDS)
        unexpected = sorted(set(body) - set(LOGIN_FIELDS))
        if unexpected:
            return api_error(400, "invalid-operation", f"Unexpected field(s) {', '.join(unexpected)}: the body "
                                                       'must hold exactly "username", "password" and "appId".')
        missing = [name for name in LOGIN_FIELDS if not is_text(body.get(name), 1, 1000)]
        if missing:
            return invalid_parameters(*missing)
        if not self._trusted_origin(request):
            return api_error(401, "invalid-credentials", UNTRUSTED_APP)
        if (body["username"], body["password"]) != (user["username"], user["password"]):
            return api_error(401, "invalid-credentials", "The given username/password pair is invalid.")
        # like open-pryv.io: a new login from the same app reuses its live session (and extends it)
        now = time.time()
        session = next((a for a in user["accesses"] if a["type"] == "personal" and a["name"] == body["appId"]
                        and user["sessions"].get(a["token"], 0) > now), None)
        if session:
            user["sessions"][session["token"]] = now + self.session_ttl
        else:
            session = self._add_access(user, "personal", body["appId"], [], created_by="system")
        return json_reply(200, {"token": session["token"], "preferredLanguage": user["language"], "meta": meta(),
                                "apiEndpoint": self._api_endpoint(request, user["username"], session["token"])})

    def _trusted_origin(self, request):
        origin = urlsplit(request.headers.get("Origin") or request.headers.get("Referer") or "")
        host = origin.hostname or ""
        if origin.scheme == "https" and (host == self.domain or host.endswith("." + self.domain)):
            return True
        return not request.dns_mode and origin.scheme in ("https", self.scheme) and host == self.hostname

    def _create_access(self, request, user):
        access = self._authorize(request, user)
        if access["type"] not in ("personal", "app"):  # shared accesses cannot create accesses
            return api_error(403, "forbidden", "You cannot access this resource using the given access token.")
        body = request.json()
        body = body if isinstance(body, dict) else {}
        name, permissions = body.get("name"), body.get("permissions")
        kind, device, expire_after = body.get("type", "shared"), body.get("deviceName"), body.get("expireAfter")
        permissions_ok = isinstance(permissions, list) and permissions and all(
            isinstance(p, dict) and isinstance(p.get("streamId"), str) and p.get("level") in PERMISSION_LEVELS
            for p in permissions)
        expiry_ok = expire_after is None or (isinstance(expire_after, (int, float))
                                             and not isinstance(expire_after, bool) and expire_after >= 0)
        bad = [param for param, valid in (("name", is_text(name, 1, 255)), ("permissions", permissions_ok),
                                          ("type", kind in ("shared", "app")),
                                          ("deviceName", device is None or isinstance(device, str)),
                                          ("expireAfter", expiry_ok)) if not valid]
        if bad:
            return invalid_parameters(*bad)
        if any((a["type"], a["name"], a.get("deviceName")) == (kind, name, device) for a in user["accesses"]):
            return item_exists("access", {"type": kind, "name": name, "deviceName": device})
        expires = None if expire_after is None else time.time() + expire_after
        created = self._add_access(user, kind, name, permissions, access["id"], expires=expires, device_name=device)
        return json_reply(201, {"access": self._with_endpoint(request, user, created), "meta": meta()})

    def _list_accesses(self, request, user):
        access = self._authorize(request, user)
        now, include_expired = time.time(), request.query.get("includeExpired") == "true"
        listed = [self._with_endpoint(request, user, a) for a in user["accesses"]
                  if a["type"] != "personal" and (include_expired or not _expired(a, now))
                  and (access["type"] == "personal" or a["createdBy"] == access["id"])]
        return json_reply(200, {"accesses": listed, "meta": meta()})

    def _access_info(self, request, user):
        access = self._authorize(request, user)
        return json_reply(200, {**access, "user": {"username": user["username"]}, "meta": meta()})


CORE_ROUTES = {
    ("GET", "/events"): Core._events,
    ("POST", "/auth/login"): Core._login,
    ("GET", "/accesses"): Core._list_accesses,
    ("POST", "/accesses"): Core._create_access,
    ("GET", "/access-info"): Core._access_info,
}
