"""Django's Redis cache backend, keeping one ``redis.Redis`` client per connection pool.

Django's client builds a new ``redis.Redis`` for every cache call, and each registers some 170
response callbacks in its constructor: on a list request that was more time than the round trip
to Redis. A client is thread-safe (it takes a connection from its pool per command), so one per
pool serves every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

if TYPE_CHECKING:
    from redis import ConnectionPool, Redis


class _KeptClients(RedisCacheClient):
    # Django's client's own, which django-stubs leaves undeclared (they are private).
    _client: Callable[..., Redis]
    _get_connection_pool: Callable[[bool], ConnectionPool]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Redis] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _KeptClients
