"""HTTP requests and replies as the platform sees them, and the bodies of its errors."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

API_VERSION = "1.9.3-open"
SERIAL = "2019061301"
# v2's public message for an error it does not name (components/errors/src/errorHandling.ts)
UNEXPECTED_ERROR = ("An unexpected error occurred. Our bad! Please accept our humble apologies and notify us if it "
                    "happens repeatedly. Thank you.")

# service-register's messages: id -> (message, detail)
SR_MESSAGES = {
    "INVALID_DATA": ("Invalid Data", "Some of the data transmited is invalid."),
    "INVALID_JSON_REQUEST": ("Invalid Data", "The data transmited is not in a valid JSON format."),
    "INVALID_USER_NAME": ("Invalid user name",
                          "User name must be made of 5 to 60 alphanumeric characters (- authorized)."),
    "RESERVED_USER_NAME": ("Reserved user name", "User name is reserved."),
    "EXISTING_USER_NAME": ("Username already exists", "User name must be unique."),
    "INVALID_PASSWORD": ("Invalid password", "Password must be between 6 and 99 characters."),
    "INVALID_APPID": ("Invalid app id", "App id is not recognized"),
    "INVALID_HOSTING": ("Invalid hosting", "Hosting value must be made of 4 to 70 alphanumeric "
                                           "characters (- and . authorized)."),
    "UNAVAILABLE_HOSTING": ("Hosting not available",
                            "Hosting unknown, not active or unavailable, retry with another one"),
    "INVALID_LANGUAGE": ("Invalid language code", "Language code should be a string of 1-5 characters."),
    "INVALID_EMAIL": ("Invalid email address", "E-mail address format not recognized"),
    "EXISTING_EMAIL": ("E-mail already exists", "This e-mail is already assigned to a user."),
}

NGINX_502 = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
             b"</h1></center><hr><center>nginx</center></body></html>\n")


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)
    chunked: bool = False  # streamed like core's GET /events: headers first, then the body
    hold: bool = False  # sent only when the sandbox resets or stops: a server that hangs (Sandbox.HOLD_SECONDS at most)


class Abort(Exception):
    """Raised by a handler to answer with ``reply`` at once."""

    def __init__(self, reply):
        super().__init__(reply.status)
        self.reply = reply


def meta():
    return {"apiVersion": API_VERSION, "serverTime": time.time(), "serial": SERIAL}


def json_reply(status, body, chunked=False):
    headers = {"Content-Type": "application/json; charset=utf-8", "API-Version": API_VERSION}
    return Reply(status, json.dumps(body).encode(), headers, chunked)


def api_error(status, error_id, message, data=None):
    """A core (open-pryv.io) error: ``{"error": {...}, "meta": {...}}``."""
    error = {"id": error_id, "message": message}
    if data is not None:
        error["data"] = data
    return json_reply(status, {"error": error, "meta": meta()})


def invalid_parameters(*items):
    """400 invalid-parameters-format; each item is a parameter name (a ``{code: NAME-invalid, param}`` item) or
    a dict made by param_error() or type_error()."""
    data = [{"code": f"{item}-invalid", "param": item} if isinstance(item, str) else item for item in items]
    return api_error(400, "invalid-parameters-format", "The parameters' format is invalid.", data)


def param_error(param, code, message, missing=False):
    """A parameter error that v2's schema words itself (components/api-server/src/methods/helpers/
    commonFunctions.ts, _addCustomMessage): a missing one has the path of its parent object."""
    return {"code": code, "message": message, "path": "#/" if missing else f"#/{param}", "param": param}


def type_error(param, expected):
    """A parameter of the wrong JSON type, as v2's validator reports it without a custom message
    (components/utils/src/jsonValidator.ts: ajv's error in z-schema's shape)."""
    return {"code": "INVALID_TYPE", "params": [expected], "message": f"must be {expected}", "path": f"#/{param}"}


def item_exists(resource, keys):
    described = ", ".join(f'{key} "{"null" if value is None else value}"' for key, value in keys.items())
    article = "An" if resource[0] in "aeiou" else "A"  # Pryv's own rule: "An user with ..."
    return api_error(409, "item-already-exists", f"{article} {resource} with {described} already exists", keys)


def unknown_resource():
    return api_error(404, "unknown-resource", "Unknown resource")


def sr_error(error_id, sub_errors=()):
    """A service-register error: a flat ``{"id", "message", "detail", "errors"}`` body, status 400."""
    def body(eid):
        message, detail = SR_MESSAGES[eid]
        return {"id": eid, "message": message, "detail": detail}
    return json_reply(400, {**body(error_id), "errors": [body(eid) for eid in sub_errors]})


def bad_gateway():
    return Reply(502, NGINX_502, {"Server": "nginx", "Content-Type": "text/html"})


def preflight():
    """v2's answer to any OPTIONS request (components/middleware/src/commonHeaders.ts: Express's sendStatus)."""
    return Reply(200, b"OK", {"Content-Type": "text/plain; charset=utf-8", "API-Version": API_VERSION})


def root_index(request):
    """v2's GET / and GET /ANYTHING/ (components/api-server/src/routes/root.ts, rootIndex): JSON for a client
    that takes it, else a text greeting."""
    accepted = [kind.partition(";")[0].strip() for kind in request.headers.get("Accept", "").split(",")]
    if request.headers.get("Accept") is None or {"application/json", "application/*", "*/*"} & set(accepted):
        return json_reply(200, {"meta": meta(), "cheersFrom": "Pryv API", "learnMoreAt": "https://pryv.github.io/"})
    now = meta()
    text = (f"# Cheers from the Pryv API!\n\n- API version: {now['apiVersion']}\n- Server time: {now['serverTime']}"
            "\n\nLearn more at https://pryv.github.io/")
    return Reply(200, text.encode(), {"Content-Type": "text/html; charset=utf-8", "API-Version": API_VERSION})


def add_cors(reply, request):
    """The CORS headers v2 puts on every answer of its own (components/middleware/src/commonHeaders.ts)."""
    headers = request.headers
    reply.headers.update({
        "Access-Control-Allow-Origin": headers.get("Origin") or "*",
        "Access-Control-Allow-Methods": headers.get("Access-Control-Request-Method")
        or "POST, GET, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": headers.get("Access-Control-Request-Headers") or "Authorization, Content-Type",
        "Access-Control-Expose-Headers": "API-Version",
        "Access-Control-Max-Age": str(365 * 24 * 3600),
        "Access-Control-Allow-Credentials": "true",
    })


class Request:
    """One HTTP request, as the platform logic sees it."""

    def __init__(self, method, target, headers, body=b""):
        url = urlsplit(target)
        self.method, self.headers, self.body = method, headers, body
        self.path = unquote(url.path) or "/"
        self.query = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        host = headers.get("Host", "").strip().lower()
        self.host = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0].rstrip(".")
        self.route_method = "GET" if method == "HEAD" else method  # Express answers HEAD with the GET route
        self.dns_mode = False  # set by the router: which URL and body shapes to answer with
        self.access_id = None  # set once a token resolves: the Pryv-Access-Id header
        self.v2 = False  # set by the router: answered by open-pryv.io v2 (its CORS headers), not service-register
        self.changed = None  # set by the router: (user, socket.io message) to send once the change succeeded

    def for_call(self, method, path, params):
        """The request one call of a batch makes: this one's headers, `params` as query string or JSON body."""
        if method == "GET":
            pairs = params.items() if isinstance(params, dict) else ()
            query = {key: value if isinstance(value, str) else json.dumps(value) for key, value in pairs}
            call = Request(method, f"{path}?{urlencode(query)}", self.headers)
        else:
            call = Request(method, path, self.headers, json.dumps(params).encode())
        call.dns_mode, call.v2 = self.dns_mode, self.v2
        return call

    def json(self):
        """The body as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def token(self):
        """The token of the ``Authorization`` header, raw, ``Basic base64(token:)`` or ``Bearer token``, else
        ``?auth=``; as v2 reads it (components/middleware/src/getAuth.ts, business/src/MethodContext.ts parseAuth:
        in ``TOKEN CALLERID`` the token is what precedes the space)."""
        auth = self.headers.get("Authorization", "")
        scheme, _, credentials = auth.partition(" ")
        first = credentials.partition(" ")[0]
        if scheme.lower() == "basic" and first:
            try:
                auth = base64.b64decode(first).decode("ascii").partition(":")[0]
            except ValueError:  # binascii.Error and UnicodeDecodeError both are
                auth = ""
        elif scheme.lower() == "bearer" and first:
            auth = credentials
        auth = auth[:1] + auth[1:].partition(" ")[0]
        return auth or self.query.get("auth")
