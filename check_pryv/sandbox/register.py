"""The register: service-register 1.9 in DNS mode (Host reg.DOMAIN), open-pryv.io's /reg/ routes DNS-less."""

from __future__ import annotations

import json
import re
import secrets
import time

from .core import USERNAME_MESSAGE, USERNAME_RE, Core, is_text, matches
from .messages import (SERIAL, UNEXPECTED_ERROR, api_error, invalid_parameters, json_reply, meta, param_error,
                       root_index, sr_error)

HOSTING_RE = re.compile(r"[A-Za-z0-9.-]{4,70}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
RESERVED_WORDS = frozenset({"admin", "administrator", "healthcheck", "register", "registry",
                            "support", "system", "pryvio"})
DNS_MODE_HOSTINGS = {"hosting1": True, "hosting2": False}  # name -> available
# v2's message for a failed lookup of a name in PostgreSQL (components/storage/src/usersLocalIndex.ts)
DATABASE_DOWN = "Unexpected error: connect ECONNREFUSED 127.0.0.1:5432"
# seconds: an app sign-in request expires by itself (components/api-server/src/routes/reg/accessState.ts)
ACCESS_REQUEST_TTL = 3600
FOREIGN_HOST = "access.example.invalid"  # where the fault auth-request=elsewhere sends the poll


class Register:
    """The register's handlers, mixed into Sandbox: they take (self, request, username from the path or None).

    Expects from the Sandbox: _faults, domain, hostname, _url(), _api_endpoint(), and Core's data methods."""

    def _sr_check_username(self, request, raw_name):
        name = raw_name.strip().lower()
        if not USERNAME_RE.fullmatch(name):
            return sr_error("INVALID_USER_NAME")
        if name in RESERVED_WORDS:
            return json_reply(200, {"reserved": True, "reason": "RESERVED_USER_NAME"})
        return json_reply(200, {"reserved": self._user(name) is not None})

    def _dnsless_check_username(self, request, name):
        """v2's auth.usernameCheck (components/api-server/src/methods/auth/register.ts): `reserved` says whether
        an account has the name; reserved words are refused only when an account is created."""
        if not USERNAME_RE.fullmatch(name):  # no trimming nor lower-casing here
            return invalid_parameters(param_error("username", "username-invalid", USERNAME_MESSAGE))
        return json_reply(200, {"reserved": self._user(name) is not None, "meta": meta()})

    def _database_failure(self, request, message=UNEXPECTED_ERROR):
        """The reply of a call whose database is down: v2 words a failed lookup of a name (DATABASE_DOWN), hides
        other causes behind its generic message; service-register has one word for all."""
        if request.dns_mode:
            return json_reply(500, {"id": "INTERNAL_ERROR", "message": "Internal error"})
        return api_error(500, "unexpected-error", message)

    def _access_request(self, request, _):
        """An app's sign-in request (v2's POST /reg/access, components/api-server/src/routes/reg/access.ts): stored
        until it expires; the poll URL is the register's (DNS mode) or the host's /reg/."""
        body = request.json()
        body = body if isinstance(body, dict) else {}
        app_id, permissions = body.get("requestingAppId"), body.get("requestedPermissions")
        if not app_id or not isinstance(app_id, str):
            return access_error(400, "invalid-parameters", "Missing or invalid requestingAppId")
        if not isinstance(permissions, list) or not permissions:
            return access_error(400, "invalid-parameters", "Missing or invalid requestedPermissions")
        fault = self._faults["auth-request"]
        if fault == "failing" or self._faults["database"] == "down":  # it stores the request
            return self._database_failure(request)
        now = time.time()
        self._access_requests = {key: state for key, state in self._access_requests.items()
                                 if state["expires"] > now}  # the platform sweeps expired requests
        key = secrets.token_urlsafe(12)[:16]
        host = FOREIGN_HOST if fault == "elsewhere" else f"reg.{self.domain}" if request.dns_mode else self.hostname
        poll = self._url(host, ("/access/" if request.dns_mode else "/reg/access/") + key)
        self._access_requests[key] = {
            "status": "NEED_SIGNIN", "key": key, "requestingAppId": app_id, "requestedPermissions": permissions,
            "poll": poll, "authUrl": None, "poll_rate_ms": 1000, "lang": body.get("languageCode") or "en",
            "returnURL": body.get("returnURL"), "oauthState": body.get("oauthState") or None,
            "clientData": body.get("clientData") or None, "expires": now + ACCESS_REQUEST_TTL}
        return json_reply(201, {"status": "NEED_SIGNIN", "key": key, "authUrl": None, "poll": poll,
                                "poll_rate_ms": 1000})

    def _access_poll(self, request, key):
        """The poll of a sign-in request (GET /reg/access/:key): 201 NEED_SIGNIN with the request and the service
        info, until it expires; the fault auth-request=lost answers as v2 when its store lost the request."""
        if self._faults["database"] == "down":
            return self._database_failure(request)
        state = self._access_requests.get(key)
        if state is None or state["expires"] <= time.time() or self._faults["auth-request"] == "lost":
            return access_error(400, "unknown-access-key", "Unknown or expired access key")
        info = self._service_info(request, None).body
        reply = {key: value for key, value in state.items() if key != "expires"}
        # the platform's configured service section: service/info's, without what that method adds
        reply["serviceInfo"] = {key: value for key, value in json.loads(info).items()
                                if key not in ("meta", "version", "features")}
        return json_reply(201, reply)

    def _sr_create_user(self, request, _):
        body = request.json()
        if not isinstance(body, dict):
            return sr_error("INVALID_JSON_REQUEST")
        hosting, email, password = body.get("hosting"), body.get("email"), body.get("password")
        username = body.get("username")
        username = username.strip().lower() if isinstance(username, str) else None
        language = body.get("languageCode", "en")
        checks = (("INVALID_HOSTING", matches(HOSTING_RE, hosting)),
                  ("INVALID_APPID", is_text(body.get("appid"), 6, 99)),
                  ("INVALID_USER_NAME", matches(USERNAME_RE, username)),
                  ("INVALID_EMAIL", matches(EMAIL_RE, email)),
                  ("INVALID_PASSWORD", is_text(password, 6, 99)),
                  ("INVALID_LANGUAGE", is_text(language, 1, 5)))
        for error_id, valid in checks:  # the register reports the first bad field only
            if not valid:
                return sr_error(error_id)
        conflicts = [error_id for error_id, hit in (("RESERVED_USER_NAME", username in RESERVED_WORDS),
                                                    ("EXISTING_USER_NAME", self._user(username) is not None),
                                                    ("EXISTING_EMAIL", self._email_taken(email))) if hit]
        if conflicts:
            return sr_error(conflicts[0]) if len(conflicts) == 1 else sr_error("INVALID_DATA", conflicts)
        if not self._hosting_availability(dns_mode=True).get(hosting):
            return sr_error("UNAVAILABLE_HOSTING")
        self._add_user(username, password, email, language)["hosting"] = hosting  # lives on that hosting's core
        return json_reply(200, {"username": username, "server": f"{username}.{self.domain}",
                                "apiEndpoint": self._api_endpoint(request, username)})

    def _hosting_availability(self, dns_mode):
        """{hosting: available}: DNS mode hosting1 and hosting2 (closed to new accounts), DNS-less v2's one."""
        hostings = dict(DNS_MODE_HOSTINGS) if dns_mode else {"default": True}
        fault = self._faults["hostings"]
        return hostings if fault == "ok" else {name: fault == "all-available" for name in hostings}

    def _hostings(self, request, _):
        if not request.dns_mode:  # v2 without a hostings setting (methods/auth/register.ts, hostingsLookup)
            hostings = {name: {"name": "Default", "available": up, "availableCore": self._url(self.hostname) if up
                               else ""} for name, up in self._hosting_availability(dns_mode=False).items()}
            zones = {"default": {"name": "Default", "hostings": hostings}}
            return json_reply(200, {"regions": {"default": {"name": "Default", "zones": zones}}, "meta": meta()})
        url = self._url(f"sw.{self.domain}")
        hostings = {name: {"url": url, "name": name, "description": f"Sandbox hosting {name}", "available": up,
                           "availableCore": self._core_url(name) if up else ""}  # each hosting its own core
                    for name, up in self._hosting_availability(dns_mode=True).items()}
        zones = {"switzerland": {"name": "Switzerland", "hostings": hostings}}
        return json_reply(200, {"regions": {"europe": {"name": "Europe", "zones": zones}}})

    def _service_info(self, request, _):
        fault = self._faults["service-info"]
        # mismatch: the URLs of another platform, as a half-migrated register still serves them
        domain, hostname = (f"old-{self.domain}", f"old-{self.hostname}") if fault == "mismatch" else (
            self.domain, self.hostname)
        if request.dns_mode:
            home, register = self._url(f"sw.{domain}"), self._url(f"reg.{domain}")
            api, assets = self._url("{username}." + domain), home + "assets/index.json"
        else:  # as v2 derives them from its public URL (config/plugins/public-url.js)
            home = self._url(hostname)
            register, api = self._url(hostname, "/reg/"), self._url(hostname, "/{username}/")
            assets = home + "www/assets/index.json"
        info = {"name": "Pryv.io sandbox", "support": home + "support", "terms": home + "terms",
                "access": register + "access/", "api": api, "home": home,
                "eventTypes": "https://pryv.github.io/event-types/flat.json",
                "assets": {"definitions": assets},
                "register": register, "version": self._faults["api-version"]}
        if fault == "incomplete":  # a register whose configuration lost its service section's URLs
            del info["api"], info["access"]
        if request.v2:  # v2 adds its serial and features (noHF: true only without an HFS worker, and the sandbox
            # serves series), and meta (api-server/src/methods/service.ts)
            features = {"contentQueries": True, **({"noHF": True} if self._faults["hfs"] == "none" else {})}
            info.update(serial=SERIAL, features=features, meta=meta())
        return json_reply(200, info)



def access_error(status, error_id, message):
    """An error of v2's /reg/access routes: written by the route itself, with no `meta`."""
    return json_reply(status, {"error": {"id": error_id, "message": message}})


SR_ROUTES = {
    ("GET", "/:username/check_username"): Register._sr_check_username,
    ("POST", "/user"): Register._sr_create_user,
    ("POST", "/users"): Core._create_user,
    ("GET", "/hostings"): Register._hostings,
    ("GET", "/service/info"): Register._service_info,
    ("POST", "/access"): Register._access_request,
    ("GET", "/access/:key"): Register._access_poll,
}
DNSLESS_REGISTER_ROUTES = {  # open-pryv.io's: the register's, but for check_username and POST /user
    **SR_ROUTES,
    ("GET", "/"): lambda self, request, _: root_index(request),  # v2's /:username/ route, "reg" as the name
    ("GET", "/:username/check_username"): Register._dnsless_check_username,
    ("POST", "/user"): Core._create_user_from_appid,
}
