"""The shared store for several instances: Redis, keys expiring on their own."""

from __future__ import annotations

import redis

from sso_bridge.errors import StoreUnavailable

_PREFIX = "sso-bridge:"


class RedisStore:
    def __init__(self, url: str, *, password: str = "", tls: bool = False) -> None:
        options: dict[str, object] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0,
                                      "health_check_interval": 15, "decode_responses": True}
        if password:
            options["password"] = password
        if tls and url.startswith("redis://"):
            url = "rediss://" + url.removeprefix("redis://")
        self._redis = redis.Redis.from_url(url, **options)  # type: ignore[arg-type]
        self._where = url.split("@")[-1]

    def _fail(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"redis at {self._where}: {exc.__class__.__name__}: {exc}")

    def put(self, key: str, value: str, ttl: int) -> None:
        try:
            self._redis.set(_PREFIX + key, value, ex=max(ttl, 1))
        except redis.RedisError as exc:
            raise self._fail(exc) from exc

    def get(self, key: str) -> str | None:
        try:
            value = self._redis.get(_PREFIX + key)
        except redis.RedisError as exc:
            raise self._fail(exc) from exc
        return None if value is None else str(value)

    def add_once(self, *keys: str, ttl: int) -> bool:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.set(_PREFIX + key, "1", ex=max(ttl, 1), nx=True)
            return all(pipe.execute())
        except redis.RedisError as exc:
            raise self._fail(exc) from exc

    def ping(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise self._fail(exc) from exc
