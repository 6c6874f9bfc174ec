"""JSON Web Tokens signed ES512 with a key pair made on first start, as Wazuh's API does."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wazuhd_http.tls import write_private

ISSUER = "wazuh"
AUDIENCE = "Wazuh API REST"
ALGORITHM = "ES512"
#: Verified tokens remembered, so a client reusing its token (every client does) pays the
#: P-521 signature check once; expiry is still checked on every use.
VERIFIED_CACHE = 4096


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not ours."""


@dataclass
class TokenKeys:
    private_pem: bytes
    public_pem: bytes
    _verified: OrderedDict[str, dict] = field(default_factory=OrderedDict, repr=False)

    @classmethod
    def load_or_create(cls, directory: Path) -> "TokenKeys":
        private_path = directory / "jwt_private.key"
        public_path = directory / "jwt_public.key"
        if not (private_path.exists() and public_path.exists()):
            key = ec.generate_private_key(ec.SECP521R1())  # ES512 uses P-521
            write_private(private_path, key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
            write_private(public_path, key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return cls(private_path.read_bytes(), public_path.read_bytes())

    def issue(self, *, username: str, user_id: int, roles: list[int], run_as: bool,
              rbac_mode: str, lifetime: int, now: float | None = None) -> str:
        issued = now if now is not None else time.time()
        # iat keeps sub-second precision: a token issued just after a password change or a
        # revoke must not be mistaken for one issued just before it.
        claims = {"iss": ISSUER, "aud": AUDIENCE, "nbf": int(issued), "iat": issued,
                  "exp": int(issued) + int(lifetime), "sub": username, "uid": user_id,
                  "run_as": run_as, "rbac_roles": roles, "rbac_mode": rbac_mode}
        return jwt.encode(claims, self.private_pem, algorithm=ALGORITHM)

    def decode(self, token: str) -> dict:
        claims = self._verified.get(token)
        if claims is not None:
            now = time.time()
            if claims["nbf"] <= now < claims["exp"]:
                self._verified.move_to_end(token)
                return claims
            del self._verified[token]
        try:
            claims = jwt.decode(token, self.public_pem, algorithms=[ALGORITHM], audience=AUDIENCE,
                                issuer=ISSUER, options={"require": ["exp", "nbf", "iat", "sub",
                                                                    "uid", "rbac_roles"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return claims
