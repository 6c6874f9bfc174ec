"""Password hashing (scrypt, salted, parameters kept with the hash) and Wazuh's password policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from wazuhd.errors import WazuhError

#: scrypt cost: ~50 ms and 16 MiB per hash, so guessing is slow and login stays cheap.
N, R, P, DKLEN = 2**14, 8, 1, 64
_SCHEME = "scrypt"
_MIXED = re.compile(r"(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9])", re.DOTALL)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """``scrypt$n$r$p$salt$hash``: a new random salt every time."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=DKLEN, maxmem=2**26)
    return f"{_SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison against a stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected), maxmem=2**26)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: Verified against when the user does not exist, so a wrong name costs as much as a wrong password.
DUMMY_HASH = f"{_SCHEME}${N}${R}${P}${_b64(bytes(16))}${_b64(bytes(DKLEN))}"


def check_password_policy(password: str) -> None:
    """Wazuh's policy: 8 to 64 characters (5009), upper, lower, digit and symbol (5007)."""
    if not 8 <= len(password) <= 64:
        raise WazuhError(5009)
    if not _MIXED.match(password):
        raise WazuhError(5007)
