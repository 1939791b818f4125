"""The faults a sandbox can be switched into: their names, their values, and how they bend a reply."""

from __future__ import annotations

import json
import re

from .messages import API_VERSION
from .register import DNS_MODE_HOSTINGS

FAULT_CHOICES = {
    "core": ("ok", "down"),
    "token": ("ok", "rejected", "expired"),
    "account": ("ok", "gone"),
    "register": ("ok", "failing"),
    "dns": ("ok", "nxdomain", "servfail", "refused", "empty", "silent"),
    "hostings": ("ok", "all-available", "none-available"),
    "service-info": ("ok", "mismatch", "incomplete"),
    "storage": ("ok", "read-only", "loses-writes"),
    "hfs": ("ok", "hung", "dead", "none"),
    "file-storage": ("ok", "gone"),
    "notifications": ("ok", "upgrade-refused", "namespace-refused", "silent"),
    "core-down": ("none", *DNS_MODE_HOSTINGS),
    "database": ("ok", "down"),
    "auth-request": ("ok", "failing", "lost", "elsewhere"),
}
NUMERIC_FAULTS = {"delay": (0, 3600), "skew": (-1e6, 1e6)}  # seconds: (lowest, highest)
TEXT_FAULTS = {"api-version": re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,39}")}  # name: what a value must match
DEFAULT_FAULTS = {"delay": 0.0, "skew": 0.0, **{name: choices[0] for name, choices in FAULT_CHOICES.items()},
                  "api-version": API_VERSION}


def fault_name(name):
    """A fault's name as the control endpoint shows it: `service_info` (as Python names it) is `service-info`."""
    return name.replace("_", "-")


def check_fault(name, value):
    """Return the fault's value, normalised; ValueError if the name or the value is unknown."""
    name = fault_name(name)
    if name in TEXT_FAULTS:
        if not isinstance(value, str) or not TEXT_FAULTS[name].fullmatch(value):
            raise ValueError(f"{name} must be a version like 1.9.3-open, not {value!r}")
        return value
    if name in NUMERIC_FAULTS:
        low, high = NUMERIC_FAULTS[name]
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = float("nan")
        if not low <= seconds <= high:  # also rejects nan
            raise ValueError(f"{name} must be seconds between {low:g} and {high:g}, not {value!r}")
        return seconds
    if name not in FAULT_CHOICES:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(DEFAULT_FAULTS)}")
    if value not in FAULT_CHOICES[name]:
        raise ValueError(f"fault {name} takes one of {', '.join(FAULT_CHOICES[name])}, not {value!r}")
    return value


def with_meta_faults(reply, skew, version):
    """The reply of a platform whose clock is off by `skew` seconds (meta.serverTime) and whose API reports
    `version` (the API-Version header and meta.apiVersion)."""
    if "API-Version" in reply.headers:
        reply.headers["API-Version"] = version
    if b'"serverTime"' in reply.body:
        data = json.loads(reply.body)
        if isinstance(data, dict) and isinstance(data.get("meta"), dict):
            data["meta"].update(serverTime=data["meta"]["serverTime"] + skew, apiVersion=version)
            reply.body = json.dumps(data).encode()
