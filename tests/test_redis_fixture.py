"""The suite's own redis-server: real, on loopback, and restartable on the same port."""
import redis


def test_redis_server_answers_and_restarts(redis_server):
    client = redis.Redis.from_url(redis_server.url, socket_timeout=1)
    client.set("vidatlas:test", b"1", ex=30)
    assert client.get("vidatlas:test") == b"1"
    redis_server.stop()
    try:
        client.ping()
        raise AssertionError("ping succeeded with the server stopped")
    except redis.ConnectionError:
        pass
    redis_server.start()
    assert client.ping()
    assert client.get("vidatlas:test") is None  # a fresh server: nothing persisted
