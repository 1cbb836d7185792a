"""directory/db/cache.py: Django's Redis cache, with one client kept per connection pool."""

import pytest
from django.conf import settings

from directory.db.cache import RedisCache

pytestmark = pytest.mark.skipif(
    not settings.CACHE_URL.startswith("redis"),
    reason="Redis: tested in the pass that runs with CACHE_URL on it",
)


def test_the_redis_cache_keeps_one_client_and_works_as_djangos():
    cache = RedisCache(settings.CACHE_URL, {"KEY_PREFIX": "test-cache"})
    first = cache._cache.get_client("a")
    assert cache._cache.get_client("b") is first
    assert cache._cache.get_client("c", write=True) is first  # one server: reads and writes share its pool
    cache.set("greeting", {"hello": "world"}, 30)
    assert cache.get("greeting") == {"hello": "world"}
    assert cache.add("counter", 0, 30)
    assert cache.incr("counter") == 1
    cache.delete_many(["greeting", "counter"])
    assert cache.get("greeting") is None


def test_settings_use_it_for_redis():
    assert settings.CACHES["default"]["BACKEND"] == "directory.db.cache.RedisCache"
