"""`ticketflow dev` as an object: the whole stack of a topology in this process.

    with LocalStack(port=0) as stack:       # port 0: any free port
        requests.get(f"{stack.base_url}/openapi.json")

Tests pass a topology-like object (``FUNCTIONS`` and ``QUEUES`` as in ``infra.topology``)
to run throwaway functions through the same machinery.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3

from infra import topology as default_topology
from infra.local import triggers
from infra.local.emulator import DEFAULT_PREFIX, Emulator
from infra.local.gateway import DEMO_API_KEY, FunctionRoute, Gateway, Routes, error_body
from infra.local.lambdas import LocalFunction
from infra.local.outbox import Outbox
from ticketflow import clock

API_KEY_ENV = "TICKETFLOW_CHANNEL_API_KEY"  # the key, for handlers that want it; the gateway enforces it


class LocalStack:
    def __init__(
        self,
        topology: Any = default_topology,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        api_key: str = DEMO_API_KEY,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.topology = topology
        self.api_key = api_key
        self.emulator = Emulator(topology, prefix=prefix)
        self.functions: dict[str, LocalFunction] = {}
        self.schedules = {f.schedule.name: f for f in topology.FUNCTIONS if f.schedule}
        self.outbox: Outbox | None = None
        self.base_url = ""
        self.startup_s = 0.0
        self._address = (host, port)
        self._gateway: Gateway | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def people(self) -> tuple:
        """The demo directory as seeded (ticketflow.directory.Person)."""
        return self.emulator.people

    def start(self) -> str:
        """Start everything and return the API's base URL."""
        started = time.perf_counter()
        # Bind first: a port in use fails before anything else has started.
        self._gateway = Gateway(self._address, api_key=self.api_key)
        try:
            self._start_behind(self._gateway)
        except BaseException:
            self.stop()
            raise
        host, port = self._gateway.bound_address
        self.base_url = f"http://{host}:{port}"
        self.startup_s = time.perf_counter() - started
        return self.base_url

    def _start_behind(self, gateway: Gateway) -> None:
        emulator = self.emulator
        host, port = gateway.bound_address
        # Links in messages (survey links) lead back to this gateway, unless told otherwise.
        public_url = os.environ.get(default_topology.PUBLIC_BASE_URL_ENV) or f"http://{host}:{port}"
        emulator.start({API_KEY_ENV: self.api_key, default_topology.PUBLIC_BASE_URL_ENV: public_url})
        self.functions = {f.name: emulator.load(f) for f in self.topology.FUNCTIONS}
        session = boto3.session.Session()
        self.outbox = outbox = Outbox(emulator.account, emulator.region, emulator.prefix)
        outbox.install(session.client("events"))
        routes = Routes(
            [
                *((r.method, r.path, FunctionRoute(f.name, r.auth)) for f in self.topology.FUNCTIONS for r in f.routes),
                ("GET", "/dev/outbox", lambda body: (200, outbox.read())),
                ("POST", "/dev/schedules/{name}", self._fire_route),
                ("GET", "/dev/clock", lambda body: (200, {"now": clock.iso(clock.now())})),
                ("POST", "/dev/clock", self._clock_route),
                ("POST", "/dev/settle", self._settle_route),
            ]
        )
        gateway.mount(routes, self.functions, emulator.account)
        self._spawn(gateway.serve_forever, "gateway")
        sqs = session.client("sqs")
        for queue in self.topology.QUEUES:
            consumer = next((f for f in self.topology.FUNCTIONS if f.consumes == queue.name), None)
            if consumer:
                self._spawn(
                    triggers.pump,
                    f"pump-{queue.name}",
                    self.functions[consumer.name],
                    sqs,
                    emulator.queue_urls[queue.name],
                    emulator.queue_arn(queue.name),
                    queue.batch_size,
                    emulator.region,
                    self._stop,
                )
        for name, function in self.schedules.items():
            period = triggers.schedule_period_s(function.schedule)
            self._spawn(triggers.tick, f"schedule-{name}", lambda n=name: self.fire(n), period, self._stop)

    def fire(self, schedule: str) -> Any:
        """Invoke a schedule's function now, as its EventBridge rule would. KeyError if unknown."""
        function = self.schedules[schedule]
        emulator = self.emulator
        rule_arn = f"arn:aws:events:{emulator.region}:{emulator.account}:rule/{emulator.prefix}-{schedule}"
        event = triggers.schedule_event(rule_arn, emulator.region, emulator.account)
        return self.functions[function.name].invoke(event)

    def settle(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queue is empty and nothing is in flight (False: still busy at the
        timeout, e.g. a message waiting out its visibility timeout after a failure). Reads the
        in-process emulator's queues directly, as the outbox does: no request per check."""
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[self.emulator.account][self.emulator.region]
        names = {f"{self.emulator.prefix}-{queue.name}" for queue in self.topology.QUEUES}
        deadline, quiet = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            queues = [q for name, q in backend.queues.items() if name in names]
            busy = any(
                q.approximate_number_of_messages
                or q.approximate_number_of_messages_not_visible
                or q.approximate_number_of_messages_delayed
                for q in queues
            )
            quiet = 0 if busy else quiet + 1
            if quiet >= 3:  # a few times in a row: a consumer may be between receiving and sending on
                return True
            time.sleep(0.005)
        return False

    def _settle_route(self, body: Any = None) -> tuple[int, Any]:
        started = time.monotonic()
        timeout = float((body or {}).get("timeout_s", 30))
        settled = self.settle(min(timeout, 120.0))
        return 200, {"settled": settled, "waited_s": round(time.monotonic() - started, 3)}

    def _clock_route(self, body: Any = None) -> tuple[int, Any]:
        """{"at": "<ISO time>"} moves the stack's clock there (it runs on from it); {"at": null}
        returns to real time. For the demo replay (`ticketflow dev --demo`)."""
        if not isinstance(body, dict) or "at" not in body:
            return 422, error_body("validation_error", 'send {"at": "<ISO 8601 time with zone>"} or {"at": null}')
        try:
            moment = datetime.fromisoformat(body["at"]) if body["at"] else None
            if moment is not None and moment.tzinfo is None:
                raise ValueError("no time zone")
        except (TypeError, ValueError):
            return 422, error_body(
                "validation_error", "at: an ISO 8601 time with a zone, e.g. 2026-11-24T09:00:00+08:00"
            )
        return 200, {"now": clock.iso(clock.travel(moment))}

    def _fire_route(self, name: str, body: Any = None) -> tuple[int, Any]:
        if name not in self.schedules:
            return 404, error_body("not_found", f"no schedule {name!r}; known: {', '.join(self.schedules) or 'none'}")
        return 200, self.fire(name)

    def stop(self) -> None:
        """Stop the gateway, the pumps and tickers, then the emulator. Safe to call twice."""
        self._stop.set()
        if self._gateway is not None:
            if self._threads:  # shutdown() waits for a serve_forever() that must have started
                self._gateway.shutdown()
            self._gateway.server_close()
            self._gateway = None
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self.emulator.stop()
        clock.travel(None)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., Any], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
