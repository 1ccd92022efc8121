"""A SendGrid-compatible v3 Mail Send server on 127.0.0.1 for tests and the benchmark.

It answers ``POST /v3/mail/send`` as SendGrid does: the bearer key is checked (401
otherwise), the JSON body is validated against SendGrid's own OpenAPI description of
the endpoint (tests/fixtures/sendgrid/twilio_tsg_mail_v3.json, with jsonschema; its
``$ref``s resolved inside that file), and a valid request gets 202 with an
``X-Message-Id`` and its recipients recorded. An invalid one gets 400 with a
SendGrid-style ``errors`` body naming the field. With `sample=N` (the benchmark's
setting) a request's personalizations are validated N from each end, the rest of
the body in full, and their count against SendGrid's limit of 1,000: a 100,000
subscriber send is then timed on the sender, not on jsonschema.

It can be told, per request number (1 = the first request it sees), to answer 429
(with ``X-RateLimit-Reset``), 500, 400 with a given message, or to hang (hold the
request without answering, at most `MAX_HANG` seconds, until released). Every wait is
bounded and every socket has a timeout, so a test can fail but never hang. What it
does not do: TLS, any other endpoint, or delivering mail.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema

SPEC = Path(__file__).resolve().parent / "fixtures" / "sendgrid" / "twilio_tsg_mail_v3.json"
SCHEMA_POINTER = "#/components/requestBodies/PostMailSend/content/application~1json/schema"
API_KEY = "SG.test-key-for-the-loopback-server"
MAX_BODY = 30 * 1024 * 1024  # SendGrid's own limit on a request
MAX_HANG = 10.0
MAX_PERSONALIZATIONS = 1000
SOCKET_TIMEOUT = 10.0


def mail_send_validator() -> jsonschema.protocols.Validator:
    """A validator of Mail Send request bodies, from the OpenAPI description.

    The description is an OpenAPI 3.1 document, whose schemas are JSON Schema 2020-12:
    the whole document is the root schema (its ``$ref``s are JSON pointers into it)
    and a ``$ref`` to the request body schema makes that what is checked.
    """
    document = json.loads(SPEC.read_text(encoding="utf-8"))
    schema = {**document, "$ref": SCHEMA_POINTER}
    validator_cls = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    return validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)


@dataclass
class Behaviour:
    kind: str  # "429" | "500" | "400" | "hang"
    message: str = ""
    reset_in: float = 1.0  # 429: X-RateLimit-Reset is now + this, in whole seconds


@dataclass
class Accepted:
    """One request answered 202."""

    number: int
    message_id: str
    recipients: list[str]
    custom_args: list[dict[str, str]]
    body: dict[str, Any] | None = None  # kept unless the server was told not to


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0
    behaviours: dict[int, Behaviour] = field(default_factory=dict)
    accepted: list[Accepted] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        self.server.owner.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: SendGridServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and leave are part of what tests check


class SendGridServer:
    """See the module docstring. Use as a context manager."""

    def __init__(
        self, api_key: str = API_KEY, *, keep_bodies: bool = True, sample: int | None = None
    ) -> None:
        self.api_key = api_key
        self.keep_bodies = keep_bodies
        self.sample = sample
        self._validator = mail_send_validator()
        self._state = _State()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> SendGridServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._state.release.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- telling it what to do ----------------------------------------------

    def on(self, number: int, kind: str, *, message: str = "", reset_in: float = 1.0) -> None:
        """Answer request `number` (1 = first) with `kind`: 429, 500, 400 or hang."""
        if kind not in ("429", "500", "400", "hang"):
            raise ValueError(f"unknown behaviour {kind!r}")
        with self._state.lock:
            self._state.behaviours[number] = Behaviour(kind, message, reset_in)

    def wait_hanging(self, timeout: float = MAX_HANG) -> bool:
        """Block until a request is being held by a hang (True) or `timeout` passes."""
        return self._state.hanging.wait(timeout)

    def release(self) -> None:
        """Let held requests go (they are then dropped without an answer)."""
        self._state.release.set()

    # --- what it saw -----------------------------------------------------------

    @property
    def request_count(self) -> int:
        with self._state.lock:
            return self._state.count

    @property
    def accepted(self) -> list[Accepted]:
        with self._state.lock:
            return list(self._state.accepted)

    @property
    def statuses(self) -> list[int]:
        with self._state.lock:
            return list(self._state.statuses)

    @property
    def invalid(self) -> list[str]:
        with self._state.lock:
            return list(self._state.invalid)

    def recipients(self) -> Counter[str]:
        """How many accepted messages each address got."""
        counts: Counter[str] = Counter()
        for request in self.accepted:
            counts.update(request.recipients)
        return counts

    # --- serving ---------------------------------------------------------------

    def handle(self, req: _Handler) -> None:
        with self._state.lock:
            self._state.count += 1
            number = self._state.count
            behaviour = self._state.behaviours.get(number)
        body = self._read(req)
        if req.path.split("?")[0] != "/v3/mail/send":
            self._answer(req, 404, {"errors": [{"message": "not found", "field": None}]})
        elif req.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._answer(req, 401, {"errors": [{"message": "authorization required"}]})
        elif behaviour is not None and behaviour.kind == "hang":
            self._state.hanging.set()
            self._state.release.wait(MAX_HANG)
            req.close_connection = True  # and no answer at all
        elif behaviour is not None and behaviour.kind == "429":
            reset = int(time.time() + behaviour.reset_in)
            headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"}
            headers["X-RateLimit-Reset"] = str(reset)
            self._answer(req, 429, {"errors": [{"message": "too many requests"}]}, headers)
        elif behaviour is not None and behaviour.kind == "500":
            self._answer(req, 500, {"errors": [{"message": "internal error"}]})
        elif behaviour is not None and behaviour.kind == "400":
            error = {"message": behaviour.message or "bad request", "field": "from.email"}
            self._answer(req, 400, {"errors": [error]})
        else:
            self._validate_and_accept(req, number, body)

    def _validate_and_accept(self, req: _Handler, number: int, body: bytes | None) -> None:
        if body is None:
            self._answer(req, 413, {"errors": [{"message": "request too large"}]})
            return
        if req.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._answer(req, 415, {"errors": [{"message": "Content-Type must be JSON"}]})
            return
        try:
            data = json.loads(body or b"")
        except ValueError:
            self._answer(req, 400, {"errors": [{"message": "Bad Request", "field": None}]})
            return
        found = self._errors(data)
        if found:
            with self._state.lock:
                self._state.invalid.extend(f"{f['field']}: {f['message']}" for f in found)
            self._answer(req, 400, {"errors": found})
            return
        people = data["personalizations"]
        message_id = uuid.uuid4().hex[:22]
        accepted = Accepted(
            number=number,
            message_id=message_id,
            recipients=[to["email"] for p in people for to in p["to"]],
            custom_args=[p.get("custom_args", {}) for p in people],
            body=data if self.keep_bodies else None,
        )
        with self._state.lock:
            self._state.accepted.append(accepted)
        self._answer(req, 202, None, {"X-Message-Id": message_id})

    def _errors(self, data: Any) -> list[dict[str, Any]]:
        checked, sample = data, self.sample
        people = data.get("personalizations") if isinstance(data, dict) else None
        if sample is not None and isinstance(people, list) and len(people) > 2 * sample:
            if len(people) > MAX_PERSONALIZATIONS:
                message = f"personalizations: at most {MAX_PERSONALIZATIONS} items"
                return [{"message": message, "field": "personalizations"}]
            checked = {**data, "personalizations": people[:sample] + people[-sample:]}
        errors = sorted(self._validator.iter_errors(checked), key=lambda e: list(e.path))
        return [
            {"message": e.message[:300], "field": ".".join(str(p) for p in e.path) or None}
            for e in errors[:5]
        ]

    def _read(self, req: _Handler) -> bytes | None:
        length = int(req.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return req.rfile.read(length) if length else b""

    def _answer(
        self,
        req: _Handler,
        status: int,
        payload: dict[str, Any] | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._state.lock:
            self._state.statuses.append(status)
        data = b"" if payload is None else json.dumps(payload).encode()
        req.send_response(status)
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        if data:
            req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if data:
            req.wfile.write(data)
