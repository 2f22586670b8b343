"""Helpers shared by the sandbox tests: HTTPS sessions trusting the sandbox CA, msal clients."""

from __future__ import annotations

from typing import Any

import msal
import requests


def https_session(info: dict[str, Any]) -> requests.Session:
    """A session trusting only the sandbox CA (REQUESTS_CA_BUNDLE would override `verify` otherwise)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_cert"]
    return session


def msal_app(info: dict[str, Any], credential: Any) -> msal.ConfidentialClientApplication:
    """A confidential client against the sandbox authority."""
    return msal.ConfidentialClientApplication(
        info["client_id"],
        client_credential=credential,
        authority=info["authority"],
        instance_discovery=False,
        http_client=https_session(info),
    )
