"""The cores: accounts, accesses, events and login, as open-pryv.io answers them."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
import string
import time

from .messages import Abort, api_error, invalid_parameters, item_exists, json_reply, meta, param_error, type_error

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{3,58}[a-z0-9]")
# a sample of v2's 124,542 (components/platform/src/reserved-words.json), with its rule for "pryv..."
V2_RESERVED_WORDS = frozenset({"admin", "administrator", "register", "registry", "support", "system", "www",
                               "access", "mfa"})
PERMISSION_LEVELS = ("read", "contribute", "manage", "create-only")
LOGIN_FIELDS = ("username", "password", "appId")  # in the order v2's schema checks them
# what events.get takes, and nothing else (api-server/src/schema/eventsMethods.ts: additionalProperties false)
EVENTS_GET_PARAMS = frozenset({"streams", "content", "clientData", "types", "fromTime", "toTime", "sortAscending",
                               "skip", "limit", "state", "modifiedSince", "includeDeletions", "auth", "running"})
ID_ALPHABET = string.ascii_lowercase + string.digits
JS_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")
MISSING_TOKEN = ('The access token is missing: expected an "Authorization" header or an "auth" '
                 "query string parameter.")
# what getAccessInfo shows of an access, when not null (api-server/src/methods/utility.ts): no integrity
ACCESS_INFO_PROPS = ("id", "token", "type", "name", "deviceName", "permissions", "lastUsed", "expires", "deleted",
                     "clientData", "created", "createdBy", "modified", "modifiedBy", "calls", "alias")
UNTRUSTED_APP = 'The app id ("appId") is either missing or not trusted.'
USERNAME_MESSAGE = ("Username should have between 5 and 60 characters and contain lowercase letters or numbers "
                    "or dashes")
# v2's custom words for a refused registration field: param -> (code, message); components/errors/src/
# ErrorIds.ts and ErrorMessages.ts (the password's "5 and 23" is the server's own, stale, wording)
FIELD_ERRORS = {
    "username": ("username-invalid", USERNAME_MESSAGE),
    "password": ("password-invalid", "Password should have between 5 and 23 characters"),
    "email": ("email-invalid", "Invalid email"),
    "appId": ("appid-invalid", "Invalid app Id"),
    "language": ("language-invalid", "Invalid language"),
}
MISSING_FIELD_ERRORS = {"password": ("password-required", "Password is required"),
                        "appId": ("appid-invalid", "Missing required field: appId"),
                        "email": ("email-required", "Email is required")}


def is_text(value, shortest, longest):
    return isinstance(value, str) and shortest <= len(value) <= longest


def matches(regex, value):
    return isinstance(value, str) and regex.fullmatch(value) is not None


def parse_trusted_apps(setting):
    """[(app id or "*", compiled origin pattern)] of an auth.trustedApps setting: comma-separated APP@ORIGIN pairs
    where `*` stands for any run of non-space characters (commonFunctions.ts, getTrustedAppCheck); ValueError
    for a pair that is not one."""
    pairs = []
    for pair in setting.split(","):
        parts = re.fullmatch(r"\s*(\S+)\s*@\s*(\S+)\s*", pair)
        if not parts:
            raise ValueError(f"trusted apps: {pair.strip()!r} is not APP@ORIGIN (APP may be *, ORIGIN may hold *)")
        pairs.append((parts[1], re.compile(re.escape(parts[2]).replace(r"\*", r"\S*"))))
    return pairs


def js_number(text):
    """The number JavaScript's Number() makes of a query string, or None for NaN or an infinity: v2 coerces its
    query parameters so (api-server/src/schema/validation.ts, tryCoerceStringValues), then wants a number."""
    text = text.strip()
    if not text:
        return 0
    if not JS_NUMBER_RE.fullmatch(text):
        return None
    if text[:2].lower() in ("0x", "0o", "0b"):
        return int(text, 0)
    value = float(text)
    return value if math.isfinite(value) else None


def batch_problems(calls):
    """v2's schema errors for a batch body (api-server/src/schema/generalMethods.ts, callBatch): an array of
    {method: string, params: object or array}."""
    if not isinstance(calls, list):
        return [{"code": "INVALID_TYPE", "params": ["array"], "message": "must be array", "path": "#"}]
    problems = []
    for n, call in enumerate(calls):
        if not isinstance(call, dict):
            problems.append({"code": "INVALID_TYPE", "params": ["object"], "message": "must be object",
                             "path": f"#/{n}"})
            continue
        problems += [{"code": "OBJECT_MISSING_REQUIRED_PROPERTY", "params": [key],
                      "message": f"must have required property '{key}'", "path": f"#/{n}/"}
                     for key in ("method", "params") if key not in call]
        if "method" in call and not isinstance(call["method"], str):
            problems.append(type_error(f"{n}/method", "string"))
        if "params" in call and not isinstance(call["params"], (dict, list)):
            problems.append(type_error(f"{n}/params", "object,array"))
    return problems


def is_reserved(username):
    """A name v2 refuses to create an account with (Platform.ts #isUsernameReserved)."""
    return username in V2_RESERVED_WORDS or username.startswith("pryv")


def new_id():
    """A cuid-like id, as Pryv uses for ids and tokens."""
    return "c" + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))


def integrity(kind, item):
    """An integrity code of v2's form, KIND:0:sha256-BASE64 (business/src/integrity/integrity.ts); the hash is
    of the sandbox's own JSON of the item, not of v2's stable representation."""
    digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).digest()
    return f"{kind}:0:sha256-{base64.b64encode(digest).decode()}"


def forbidden_method(method_id):
    """v2's answer to a method the access's type may not call (api-server/src/methods/helpers/commonFunctions.ts,
    basicAccessAuthorizationCheck; business/src/accesses/AccessLogic.ts can())."""
    return api_error(403, "forbidden", f"You cannot access {method_id} resource using the given access")


def _expired(access, now):
    return access.get("expires") is not None and access["expires"] <= now


class Core:
    """The accounts' data and the core's handlers, mixed into Sandbox: handlers take (self, request, user).

    Expects from the Sandbox: _users, _faults, _trusted_apps, token (the health token), session_ttl, username
    and _api_endpoint(); and the Register's _service_info()."""

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
        access = {"id": new_id(), "token": token or new_id(), "type": kind, "name": name, "created": now,
                  "createdBy": created_by, "modified": now, "modifiedBy": created_by}
        if kind != "personal":  # v2 keeps no permissions on a personal access: it may do anything
            access["permissions"] = permissions
        if kind == "shared" or device_name is not None:  # v2 nulls a shared access's deviceName (methods/accesses.ts)
            access["deviceName"] = None if kind == "shared" else device_name
        if expires is not None:
            access["expires"] = expires
        access["integrity"] = integrity("ACCESS", access)
        if kind == "personal":
            user["sessions"][access["token"]] = now + self.session_ttl
        user["accesses"].append(access)
        return access

    # -- account creation: core's POST /users, also the register's

    def _create_user(self, request, _):
        """Core's POST /users (also the register's /users and DNS-less /reg/users): the app id is `appId`."""
        body = request.json()
        return self._register_account(request, body if isinstance(body, dict) else {})

    def _create_user_from_appid(self, request, _):
        """DNS-less POST /reg/user: v2 copies `appid` over `appId` (components/api-server/src/routes/auth/
        register.ts), so there an `appId` alone counts as missing."""
        body = request.json()
        body = body if isinstance(body, dict) else {}
        body["appId"] = body.get("appid")
        return self._register_account(request, body)

    def _register_account(self, request, body):
        """v2's auth.register (components/api-server/src/schema/authMethods.ts, components/platform/src/
        Platform.ts validateRegistration): password, appId and email required (config/default-config.yml's
        account streams), then each field's own check; an e-mail is any string of up to 300 characters."""
        app_id, username, email = body.get("appId"), body.get("username"), body.get("email")
        password, language = body.get("password"), body.get("language", "en")
        missing = [param_error(param, *MISSING_FIELD_ERRORS[param], missing=True)
                   for param in ("password", "appId", "email") if body.get(param) is None]
        bad = [param_error(param, *FIELD_ERRORS[param])
               for param, valid in (("username", matches(USERNAME_RE, username)),
                                    ("password", password is None or is_text(password, 6, 100)),
                                    ("email", email is None or isinstance(email, str)),
                                    ("appId", app_id is None or is_text(app_id, 6, 99)),
                                    ("language", is_text(language, 1, 5))) if not valid]
        if isinstance(email, str) and len(email) > 300:  # no custom words for this one
            bad.append({"code": "MAX_LENGTH", "message": "must NOT have more than 300 characters", "path": "#/email",
                        "param": "email"})
        if missing or bad:
            return invalid_parameters(*missing, *bad)
        if is_reserved(username):  # v2 names the username alone then
            return item_exists("user", {"username": username})
        conflicts = {}
        if self._user(username) is not None:
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
        """An access as accesses.get and accesses.create give it: without its usage counts (methods/accesses.ts)."""
        shown = {key: value for key, value in access.items() if key != "calls"}
        return {**shown, "apiEndpoint": self._api_endpoint(request, user["username"], access["token"])}

    def _count_call(self, user, access_id, method_id):
        """After a call that succeeded: the access's lastUsed and its count of calls of that method, as v2 keeps
        them (api-server/src/methods/helpers/updateAccessUsageStats.ts; ':' for '.' in the method id)."""
        access = next((a for a in user["accesses"] if a["id"] == access_id), None)
        if access is not None:
            access["lastUsed"] = time.time()
            calls = access.setdefault("calls", {})
            key = method_id.replace(".", ":")
            calls[key] = calls.get(key, 0) + 1

    def _events(self, request, user):
        access = self._authorize(request, user)
        limit = js_number(request.query.get("limit", "20"))
        problems = [{"code": "OBJECT_ADDITIONAL_PROPERTIES", "params": [name],
                     "message": "must NOT have additional properties", "path": "#"}
                    for name in request.query if name not in EVENTS_GET_PARAMS]
        if limit is None:  # no custom words for this one (api-server/src/schema/eventsMethods.ts)
            problems.append(type_error("limit", "number"))
        if problems:
            return invalid_parameters(*problems)
        streams = {p["streamId"] for p in access.get("permissions", []) if p["level"] != "create-only"}
        readable = [event for event in user["events"]
                    if access["type"] == "personal" or "*" in streams or streams & set(event["streamIds"])]
        readable = self._events_filtered(request, user, readable)
        events = sorted(readable, key=lambda event: event["time"], reverse=True)[:max(0, int(limit))]
        reply = json_reply(200, {"events": events, "meta": meta()}, chunked=True)
        reply.headers["Content-Type"] = "application/json"  # a streamed result's (api-server/src/Result.ts)
        return reply

    def _login(self, request, user):
        """v2's auth.login (components/api-server/src/routes/auth/login.ts, methods/auth/login.ts): the three
        fields must be there (others are ignored), be strings, come from a trusted app, name the path's user."""
        body = request.json()
        if not isinstance(body, dict) or not all(name in body for name in LOGIN_FIELDS):
            return api_error(400, "invalid-operation", "Missing parameters: username, password and appId are "
                                                       "required.")
        wrong_types = [type_error(name, "string") for name in LOGIN_FIELDS if not isinstance(body[name], str)]
        if wrong_types:
            return invalid_parameters(*wrong_types)
        if not self._trusted_app(body["appId"], request.headers.get("Origin") or request.headers.get("Referer")):
            return api_error(401, "invalid-credentials", UNTRUSTED_APP)
        if body["username"].lower() != user["username"]:
            return api_error(400, "invalid-operation", "The username in the path does not match that of the "
                                                       "credentials.")
        if body["password"] != user["password"]:
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

    def _trusted_app(self, app_id, origin):
        """Whether the platform's auth.trustedApps lets `app_id` sign in from `origin` (methods/helpers/
        commonFunctions.ts, getTrustedAppCheck)."""
        return bool(app_id) and any(app in ("*", app_id) and pattern.fullmatch(origin or "")
                                    for app, pattern in self._trusted_apps)

    def _create_access(self, request, user):
        access = self._authorize(request, user)
        if access["type"] == "shared":
            return forbidden_method("accesses.create")
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
        device = None if kind == "shared" else device
        if any((a["type"], a["name"], a.get("deviceName")) == (kind, name, device) for a in user["accesses"]):
            return item_exists("access", {"type": kind, "name": name, "deviceName": device})
        expires = None if expire_after is None else time.time() + expire_after
        created = self._add_access(user, kind, name, permissions, access["id"], expires=expires, device_name=device)
        return json_reply(201, {"access": self._with_endpoint(request, user, created), "meta": meta()})

    def _list_accesses(self, request, user):
        access = self._authorize(request, user)
        if access["type"] == "shared":
            return forbidden_method("accesses.get")
        now, include_expired = time.time(), request.query.get("includeExpired") == "true"
        listed = [self._with_endpoint(request, user, a) for a in user["accesses"]  # personal ones too
                  if (include_expired or not _expired(a, now))
                  and (access["type"] == "personal" or a["createdBy"] == access["id"])]
        return json_reply(200, {"accesses": listed, "meta": meta()})

    def _access_info(self, request, user):
        access = self._authorize(request, user)
        info = {key: access[key] for key in ACCESS_INFO_PROPS if access.get(key) is not None}
        info.update(user={"username": user["username"]}, meta=meta())
        if access["type"] != "personal":  # what v2 adds to every other access (business/src/accesses/AccessLogic.ts)
            info["permissions"] = [{"streamId": ":_system:account", "level": "none"}, *access["permissions"],
                                   {"streamId": f":_audit:access-{access['id']}", "level": "read"}]
        return json_reply(200, info)

    def _user_service_info(self, request, user):
        """v2 serves service/info under each user's path too (api-server/src/routes/service.ts)."""
        return self._service_info(request, None)

    def _batch(self, request, user):
        """POST /USER/: v2's callBatch (api-server/src/methods/utility.ts), each call run through this core's
        own route, its result without meta or its error; a method the sandbox lacks is an invalid-method."""
        self._authorize(request, user)
        calls = request.json()
        problems = batch_problems(calls)
        if problems:
            return invalid_parameters(*problems)
        results = []
        for call in calls:
            route = BATCH_METHODS.get(call["method"])
            if route is None:
                results.append({"error": {"id": "invalid-method", "message": f'Invalid method id "{call["method"]}"'}})
                continue
            try:
                reply = CORE_ROUTES[route](self, request.for_call(*route, call["params"]), user)
            except Abort as abort:  # a call's error is its result, not the batch's
                reply = abort.reply
            body = json.loads(reply.body)
            body.pop("meta", None)
            results.append({"error": body["error"]} if reply.status >= 400 else body)
        return json_reply(200, {"results": results, "meta": meta()})


CORE_ROUTES = {
    ("POST", "/"): Core._batch,
    ("GET", "/service/info"): Core._user_service_info,
    ("GET", "/events"): Core._events,
    ("POST", "/auth/login"): Core._login,
    ("GET", "/accesses"): Core._list_accesses,
    ("POST", "/accesses"): Core._create_access,
    ("GET", "/access-info"): Core._access_info,
}
BATCH_METHODS = {"events.get": ("GET", "/events"), "accesses.get": ("GET", "/accesses"),
                 "accesses.create": ("POST", "/accesses"), "getAccessInfo": ("GET", "/access-info")}
METHOD_IDS = {**{route: method for method, route in BATCH_METHODS.items()}, ("POST", "/"): "callBatch",
              ("GET", "/service/info"): "service.info", ("POST", "/auth/login"): "auth.login"}
