"""A small threaded HTTP load client: one http.client connection per thread, each with its
own JWT, and the runner that times a task over all of them after a warm-up.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from bench.database import BENCH_PASSWORD, BENCH_USERNAME
from bench.measure import CpuMeter, LoadResult


class Client:
    """One thread's HTTP connection. gunicorn's sync workers answer `Connection: close`, so
    http.client reconnects before the next request (the TCP connect is part of the latency)."""

    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(
        self, method: str, path: str, body=None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        head = {"Accept": "application/json"}
        if self.token:
            head["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            head["Content-Type"] = "application/json"
        if headers:
            head.update(headers)
        try:
            self.conn.request(method, path, body=payload, headers=head)
            response = self.conn.getresponse()
            data = response.read()
            return response.status, data
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0, b""

    def close(self) -> None:
        self.conn.close()


def fetch_token(port: int) -> str:
    client = Client(port)
    status, body = client.call(
        "POST", "/api/v1/auth/token/", {"username": BENCH_USERNAME, "password": BENCH_PASSWORD}
    )
    client.close()
    if status != 200:
        raise RuntimeError(f"token endpoint answered {status}: {body[:300]!r}")
    return json.loads(body)["access"]


def clients_with_tokens(port: int, count: int) -> list[Client]:
    """`count` clients, each with its own JWT from POST /api/v1/auth/token/ (fetched once,
    in parallel: each costs a password hash)."""
    tokens: list[str | None] = [None] * count
    errors: list[BaseException] = []

    def get(k: int) -> None:
        try:
            tokens[k] = fetch_token(port)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=get, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [Client(port, token) for token in tokens]


Task = Callable[[Client], "int | tuple[int, float | None]"]


def run_load(
    name: str,
    clients: Sequence,
    task: Task,
    n: int,
    warmup: int = 0,
    meter: CpuMeter | None = None,
) -> LoadResult:
    """Run `task` n times spread over one thread per client, after `warmup` untimed runs.

    A task returns the HTTP status, or (status, latency) to time only part of what it does.
    The clock runs from the moment every thread has finished its warm-up to the last answer.
    """
    count = len(clients)
    timed = itertools.count()
    warm = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(count)]
    statuses: list[Counter] = [Counter() for _ in range(count)]
    warmed = threading.Barrier(count + 1)
    go = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        client = client_list[k]
        try:
            while next(warm) < warmup:
                task(client)
        except BaseException as exc:
            errors.append(exc)
        finally:
            warmed.wait()
            go.wait()
        if errors:
            return
        try:
            while next(timed) < n:
                t0 = time.perf_counter()
                outcome = task(client)
                elapsed = time.perf_counter() - t0
                status, part = outcome if isinstance(outcome, tuple) else (outcome, None)
                latencies[k].append(elapsed if part is None else part)
                statuses[k][status] += 1
        except BaseException as exc:
            errors.append(exc)

    client_list = list(clients)
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(count)]
    for t in threads:
        t.start()
    warmed.wait()
    if meter is not None and not errors:
        meter.start()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    if meter is not None:
        meter.stop()
    return LoadResult(
        name=name, concurrency=count, n=n, wall=wall,
        latencies=[x for part in latencies for x in part],
        statuses=sum(statuses, Counter()),
        app_cpu=meter.app if meter else None, db_cpu=meter.database if meter else None,
    )  # fmt: skip
