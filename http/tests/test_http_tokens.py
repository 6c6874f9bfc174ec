"""Token keys: ES512 signatures, and the verified-token cache never outliving a token."""

import time

import pytest

from wazuhd_http.tokens import InvalidToken, TokenKeys


@pytest.fixture
def keys(tmp_path):
    return TokenKeys.load_or_create(tmp_path)


def issue(keys, lifetime, **kwargs):
    return keys.issue(username="ana", user_id=100, roles=[1], run_as=False, rbac_mode="white",
                      lifetime=lifetime, **kwargs)


def test_a_cached_token_still_expires(keys):
    token = issue(keys, 1)
    assert keys.decode(token)["sub"] == "ana"
    assert keys.decode(token)["sub"] == "ana"  # from the cache
    time.sleep(1.1)
    with pytest.raises(InvalidToken):
        keys.decode(token)


def test_a_token_from_other_keys_is_refused(keys, tmp_path):
    other = TokenKeys.load_or_create(tmp_path / "other")
    with pytest.raises(InvalidToken):
        keys.decode(issue(other, 60))


def test_key_files_are_private(keys, tmp_path):
    for name in ("jwt_private.key", "jwt_public.key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
