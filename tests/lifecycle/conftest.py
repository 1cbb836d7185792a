"""The lifecycle is driven through SCIM requests: the SCIM tests' client and tokens."""

from tests.scim_api.conftest import _clear_cache, plaintext, scim, token, token_pair  # noqa: F401
