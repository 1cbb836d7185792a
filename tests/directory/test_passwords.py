"""Passwords are hashed with Argon2id at OWASP's minimum cost (directory/passwords.py); hashes made
otherwise still verify and are upgraded."""

import pytest
from django.contrib.auth.hashers import (
    Argon2PasswordHasher,
    check_password,
    get_random_string,
    identify_hasher,
    make_password,
)

from directory.passwords import Argon2idPasswordHasher

PASSWORD = "Corr3ct-Horse-1"


def test_new_hashes_are_argon2id_at_owasp_minimum_cost():
    encoded = make_password(PASSWORD)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert isinstance(identify_hasher(encoded), Argon2idPasswordHasher)
    assert check_password(PASSWORD, encoded)
    assert not check_password(PASSWORD.lower(), encoded)
    upgraded = []
    assert check_password(PASSWORD, encoded, setter=upgraded.append)
    assert upgraded == []  # already at the current parameters


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda: make_password(PASSWORD, hasher="pbkdf2_sha256"), id="pbkdf2"),
        pytest.param(lambda: make_password(PASSWORD, hasher="scrypt"), id="scrypt"),
        pytest.param(
            lambda: Argon2PasswordHasher().encode(PASSWORD, get_random_string(22)),
            id="argon2 at Django's default parameters",
        ),
    ],
)
def test_other_hashes_verify_and_are_upgraded_on_the_next_check(encode):
    encoded = encode()
    upgraded = []
    assert check_password(PASSWORD, encoded, setter=upgraded.append)
    assert upgraded == [PASSWORD]
    assert not check_password("wrong", encoded)
