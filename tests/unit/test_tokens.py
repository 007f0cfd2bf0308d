"""Access tokens: PyJWT's HMAC with its secret checked once (`KeyCheckedOnceHMAC`)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import jwt
import pytest
from jwt.exceptions import InvalidKeyError, InvalidSignatureError
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from backend.accounts.tokens import AccessTokens, KeyCheckedOnceHMAC, build_jwt_auth
from backend.core.rights import Grant, Role, ScopeKind

PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"


def issue(secret: str) -> str:
    tokens = AccessTokens(build_jwt_auth(secret, timedelta(minutes=5), []), timedelta(minutes=5))
    return tokens.issue(7, [Grant(Role.GUARDIAN, ScopeKind.STUDENT, 3)], "sid", "Имя")


def test_a_token_is_verified_with_its_own_secret_only() -> None:
    secret = secrets.token_urlsafe(48)
    token = issue(secret)
    assert isinstance(jwt.get_algorithm_by_name("HS256"), KeyCheckedOnceHMAC)
    assert Token.decode(token, secret, "HS256").sub == "7"
    assert Token.decode(token, secret, "HS256").sub == "7"  # the secret's check remembered
    with pytest.raises(NotAuthorizedException):
        Token.decode(token, secrets.token_urlsafe(48), "HS256")
    with pytest.raises(InvalidSignatureError):
        jwt.decode(token[:-4] + "AAAA", secret, algorithms=["HS256"])


def test_a_secret_that_is_not_fit_for_hmac_is_refused_every_time() -> None:
    issue(secrets.token_urlsafe(48))  # installs the algorithm
    for _ in range(2):  # a refusal is not remembered as a pass
        with pytest.raises(InvalidKeyError):
            jwt.encode({"sub": "1"}, PEM, algorithm="HS256")
        with pytest.raises(InvalidKeyError):
            jwt.encode({"sub": "1"}, '{"kty": "oct", "k": "abc"}', algorithm="HS256")
