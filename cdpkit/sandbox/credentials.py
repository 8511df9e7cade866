"""The credentials the local fakes accept: from the environment, else made up for the process.

A fake must know what to accept to enforce authentication, but no credential lives in the
code: each one comes from its `CDPKIT_SANDBOX_*` variable, and when that is unset a random
value is made up and exported to this process's environment, so a destination file here that
says `${CDPKIT_SANDBOX_WEBHOOK_SECRET}` (the demo) resolves to what the fake accepts.
`cdpkit sandbox` prints the values it made up, for configs in other shells.
"""

from __future__ import annotations

import os
import secrets

HUBSPOT_TOKEN = "CDPKIT_SANDBOX_HUBSPOT_TOKEN"  # noqa: S105 - variable names
SALESFORCE_CLIENT_ID = "CDPKIT_SANDBOX_SALESFORCE_CLIENT_ID"
SALESFORCE_CLIENT_SECRET = "CDPKIT_SANDBOX_SALESFORCE_CLIENT_SECRET"  # noqa: S105
WEBHOOK_SECRET = "CDPKIT_SANDBOX_WEBHOOK_SECRET"  # noqa: S105

_made_up: dict[str, str] = {}


def credential(env: str) -> str:
    """`$env`, or a random value made up once per process and exported as `$env`."""
    value = os.environ.get(env)
    if not value:
        value = _made_up.setdefault(env, secrets.token_urlsafe(24))
        os.environ[env] = value
    return value


def made_up() -> dict[str, str]:
    """The variables this process made up (name -> value), still in effect."""
    return {k: v for k, v in _made_up.items() if os.environ.get(k) == v}
