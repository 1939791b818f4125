"""One core per hosting (DNS mode): its own host name `coN.DOMAIN` and DNS record, the accounts created on that
hosting, and the `core-down=HOSTING` fault that takes that core alone down.

The cores share the sandbox's one listener on 127.0.0.1 (as cores behind one front would): what tells them apart is
their name, their DNS record, the accounts they hold and their faults. DNS-less, the platform has one core.
"""

from __future__ import annotations

from .register import DNS_MODE_HOSTINGS

DEFAULT_HOSTING = next(iter(DNS_MODE_HOSTINGS))
CORE_LABELS = {hosting: "co%d" % number for number, hosting in enumerate(DNS_MODE_HOSTINGS, 1)}


class Cores:
    """Which core holds an account, mixed into Sandbox. Expects from it: _faults, domain and _url()."""

    @staticmethod
    def _hosting_of(user):
        return user.get("hosting") or DEFAULT_HOSTING

    def _core_label(self, user):
        """The core's host label under DOMAIN: co1 for the first hosting, co2 for the second..."""
        return CORE_LABELS.get(self._hosting_of(user), CORE_LABELS[DEFAULT_HOSTING])

    def _core_url(self, hosting):
        """A hosting's availableCore, as /hostings gives it."""
        return self._url("%s.%s" % (CORE_LABELS.get(hosting, CORE_LABELS[DEFAULT_HOSTING]), self.domain))

    def _core_down(self, user):
        """Every core (core=down), or the one core of this account's hosting (core-down=HOSTING), is down."""
        return self._faults["core"] == "down" or (user is not None
                                                 and self._faults["core-down"] == self._hosting_of(user))
