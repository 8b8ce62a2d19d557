"""The request path's cache helper: values read ahead with one call are reused by later calls, only
inside the request that read them."""

from __future__ import annotations

import pytest

from recsys_site import hotcache
from recsys_site.redis_client import get_redis, key

pytestmark = pytest.mark.skipif(get_redis() is None, reason="read-ahead needs the Redis cache")


@pytest.fixture
def names():
    values = {"ra:a": 1, "ra:b": {"x": [1, 2]}}
    for name, value in values.items():
        hotcache.set_value(name, value, 60)
    get_redis().hset(key("ra:h"), "f", b"raw")
    yield values
    hotcache.delete([*values, "ra:h", "ra:count"])


def test_read_ahead_values_answer_later_reads_of_the_same_request(names, monkeypatch):
    with hotcache.request_scope():
        (first,), count = hotcache.get_many(
            ["ra:a"],
            incr="ra:count",
            read_ahead=hotcache.ReadAhead(names=("ra:b", "ra:missing"), hash_fields=(("ra:h", "f"),)),  # fmt: skip
        )
        assert (first, count) == (1, 1)
        get_redis().delete(key("ra:b"))  # later reads in this request see what was read ahead...
        monkeypatch.setattr(get_redis(), "pipeline", lambda **kw: pytest.fail("a second round trip"))
        assert hotcache.get_many(["ra:b", "ra:missing"]) == ([{"x": [1, 2]}, None], None)
        assert hotcache.ahead_raw([(key("ra:h"), "f")]) == [b"raw"]
        assert hotcache.ahead_raw([key("ra:a")]) is None  # only what was read ahead, not the main names
        monkeypatch.undo()
        hotcache.forget_read_ahead()
        assert hotcache.get_many(["ra:b"]) == ([None], None)  # ...until forgotten: then Redis is asked again
    assert hotcache.ahead_raw([key("ra:b")]) is None


def test_outside_a_request_scope_nothing_is_kept(names):
    values, _ = hotcache.get_many(["ra:a"], read_ahead=hotcache.ReadAhead(names=("ra:b",)))
    assert values == [1]
    assert hotcache.ahead_raw([key("ra:b")]) is None
