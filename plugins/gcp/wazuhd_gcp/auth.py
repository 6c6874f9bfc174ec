"""Credentials and errors, shared by the Pub/Sub and Cloud Storage sources.

A service-account key file is read here, so that what is wrong with it is
said in our words (the file, the missing fields) and never with its content.
With no file, an emulator (``PUBSUB_EMULATOR_HOST``, ``STORAGE_EMULATOR_HOST``)
means anonymous access, as Google's clients do; otherwise Application
Default Credentials apply. Google's exceptions become :class:`CollectError`
messages naming the subscription or bucket.
"""

from __future__ import annotations

import json
import os

from wazuhd.collect import CollectError

PUBSUB_EMULATOR = "PUBSUB_EMULATOR_HOST"
STORAGE_EMULATOR = "STORAGE_EMULATOR_HOST"

#: What a service-account key must hold for google-auth to sign tokens with it.
KEY_FIELDS = ("type", "client_email", "private_key", "token_uri")


def service_account(path: str, scopes: list[str]):
    """The credentials of a service-account key file; CollectError naming the file
    (and the missing fields) when it cannot be one, never quoting its content."""
    from google.oauth2 import service_account as google_service_account

    try:
        with open(path, encoding="utf-8") as stream:
            info = json.load(stream)
    except FileNotFoundError:
        raise CollectError(f"credentials file {path} does not exist") from None
    except PermissionError:
        raise CollectError(f"credentials file {path} is not readable by this user") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectError(f"cannot read credentials file {path}: {type(exc).__name__}") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise CollectError(f"credentials file {path} is not JSON{where}") from None
    if not isinstance(info, dict):
        raise CollectError(f"credentials file {path} does not hold a JSON object")
    missing = [name for name in KEY_FIELDS if not info.get(name)]
    if missing:
        raise CollectError(f"credentials file {path} is not a service-account key: "
                           f"missing {', '.join(missing)}")
    if info["type"] != "service_account":
        raise CollectError(f"credentials file {path} is of type {str(info['type'])[:40]!r}, "
                           f"expected 'service_account'")
    try:
        return google_service_account.Credentials.from_service_account_info(info, scopes=scopes)
    except (ValueError, TypeError) as exc:
        # The message of a key that does not parse may quote part of it: say only what failed.
        raise CollectError(f"credentials file {path}: the private key cannot be loaded "
                           f"({type(exc).__name__})") from None


def emulated(variable: str) -> bool:
    return bool(os.environ.get(variable))


def explain(exc: BaseException, what: str) -> CollectError:
    """A Google client failure as one line naming ``what`` (a subscription, a bucket)."""
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    if isinstance(exc, CollectError):
        return exc
    if isinstance(exc, auth.DefaultCredentialsError):
        return CollectError(f"{what}: no credentials: set credentials_file, "
                            f"GOOGLE_APPLICATION_CREDENTIALS or an emulator host")
    if isinstance(exc, auth.RefreshError):
        return CollectError(f"{what}: the credentials were refused when getting a token "
                            f"({type(exc).__name__})")
    known = [
        (api.NotFound, "does not exist"),
        (api.PermissionDenied, "permission denied"),
        (api.Unauthenticated, "the credentials were refused"),
        (api.Unauthorized, "the credentials were refused"),
        (api.Forbidden, "permission denied"),
        (api.DeadlineExceeded, "deadline exceeded"),
        (api.ServiceUnavailable, "service unavailable"),
        (api.TooManyRequests, "quota exceeded"),
    ]
    for kind, meaning in known:
        if isinstance(exc, kind):
            return CollectError(f"{what} {meaning}" if kind is api.NotFound
                                else f"{what}: {meaning}")
    if isinstance(exc, api.GoogleAPICallError):
        return CollectError(f"{what}: {type(exc).__name__}: {exc.message}")
    return CollectError(f"{what}: {type(exc).__name__}: {exc}")
