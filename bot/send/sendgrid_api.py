"""The sendgrid transport: one v3 Mail Send request per batch, through the sendgrid package.

What it does: builds the request body for a batch (one personalization per
recipient, the recipient's values as ``substitutions`` keyed by our tokens, headers
that hold a token filled per personalization because SendGrid substitutes only in
the subject and content, categories, and custom_args ``edition`` and ``batch`` on each
personalization so the event webhook can tell which batch a delivery belongs to),
posts it with `SendGridAPIClient` (``SENDGRID_API_HOST`` may point it elsewhere), and
retries 429 and 5xx with backoff and jitter, honouring ``X-RateLimit-Reset``, up to
``send.max_attempts``. A 4xx other than 429 fails the batch with SendGrid's own
error message (401 and 403, a refused key, and a host that does not resolve are
marked fatal: every batch would fail alike); a timeout or a connection lost after
the request went out leaves it ambiguous, since SendGrid may have taken it. Once
`stopping` is set (a signal), a batch is not retried.
What it does not do: touch the ledger or decide who gets what (`bot.send.runner`).
The waiting and the wall clock are injected so tests do not sleep.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from bot.config import Config
from bot.render.tokens import SUBSTITUTIONS, Filler, find_tokens, token
from bot.send import retry
from bot.send.message import Message, Recipient, SendResult
from bot.types import BatchState

DEFAULT_HOST = "https://api.sendgrid.com"
_TOKENS = {name: token(name) for name in SUBSTITUTIONS}  # substitution name -> its key


def request_body(
    config: Config, message: Message, recipients: Sequence[Recipient]
) -> dict[str, Any]:
    """The v3 Mail Send JSON body for `message` to `recipients` (at most 1000)."""
    if not 1 <= len(recipients) <= 1000:
        raise ValueError(f"a SendGrid request takes 1 to 1000 recipients, not {len(recipients)}")
    newsletter = config.newsletter
    sender: dict[str, str] = {"email": newsletter.sender.email}
    if newsletter.sender.name:
        sender["name"] = newsletter.sender.name
    per_recipient = {k: Filler(v) for k, v in message.headers.items() if find_tokens(v)}
    shared = {k: v for k, v in message.headers.items() if k not in per_recipient}
    # One custom_args dict for every personalization: the JSON is the same.
    custom_args = {str(k): str(v) for k, v in message.custom_args.items()}
    body: dict[str, Any] = {
        "personalizations": [_personalization(r, per_recipient, custom_args) for r in recipients],
        "from": sender,
        "subject": message.subject,
        "content": [
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": message.html},
        ],
    }
    if newsletter.reply_to:
        body["reply_to"] = {"email": newsletter.reply_to}
    if shared:
        body["headers"] = dict(shared)
    if message.categories:
        body["categories"] = list(dict.fromkeys(message.categories))[:10]
    return body


def _personalization(
    recipient: Recipient, headers: Mapping[str, Filler], custom_args: dict[str, str]
) -> dict[str, Any]:
    """One recipient's entry; built for every recipient of a send, so kept lean."""
    to = (
        {"email": recipient.email, "name": recipient.name}
        if recipient.name
        else {"email": recipient.email}
    )
    values = recipient.substitutions
    item: dict[str, Any] = {"to": [to]}
    if values:
        if not values.keys() <= _TOKENS.keys():
            token(next(name for name in values if name not in _TOKENS))  # raises, naming it
        item["substitutions"] = {_TOKENS[name]: value for name, value in values.items()}
    if headers:
        item["headers"] = {name: filler.fill(values) for name, filler in headers.items()}
    if custom_args:
        item["custom_args"] = custom_args
    return item


class _Outcome:
    """What one attempt gave: an HTTP answer, or no answer (ambiguous or not sent)."""

    def __init__(
        self,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        error: str | None = None,
        ambiguous: bool = False,
        fatal: bool = False,
    ) -> None:
        self.fatal = fatal
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.error = error
        self.ambiguous = ambiguous


class SendGridTransport:
    """See the module docstring."""

    name = "sendgrid"

    def __init__(
        self,
        config: Config,
        api_key: str,
        *,
        host: str = DEFAULT_HOST,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.host = host.rstrip("/")
        self._client = SendGridAPIClient(api_key, host=self.host)
        self._sleep = sleep
        self._wall = wall
        self._jitter = jitter
        self.requests = 0  # attempts made, for the summary and the benchmark
        # Set when the send is stopping (a signal): the batch in flight is not retried.
        self.stopping = threading.Event()

    def send(self, message: Message, recipients: Sequence[Recipient]) -> SendResult:
        body = request_body(self.config, message, recipients)
        send = self.config.send
        attempts = send.max_attempts
        last = ""
        for attempt in range(1, attempts + 1):
            outcome = self._post(body)
            if outcome.ambiguous:
                return SendResult(BatchState.AMBIGUOUS, error=outcome.error, attempts=attempt)
            if outcome.status is None:
                last = outcome.error or "no answer"
            else:
                decided = retry.verdict(outcome.status)
                if decided is retry.Verdict.ACCEPTED:
                    message_id = outcome.headers.get("X-Message-Id")
                    return SendResult(BatchState.ACCEPTED, message_id=message_id, attempts=attempt)
                last = retry.error_message(outcome.status, outcome.body)
                if decided is retry.Verdict.FAIL:
                    fatal = outcome.status in retry.WHOLE_TRANSPORT
                    return SendResult(BatchState.FAILED, error=last, attempts=attempt, fatal=fatal)
            if outcome.fatal:
                return SendResult(BatchState.FAILED, error=last, attempts=attempt, fatal=True)
            if self.stopping.is_set():
                # Stopping (a signal): the batch ends with this attempt, not a retry.
                return SendResult(
                    BatchState.FAILED, error=f"stopped before a retry: {last}", attempts=attempt
                )
            if attempt < attempts:
                self._sleep(
                    retry.retry_wait(
                        attempt,
                        outcome.headers,
                        now=self._wall(),
                        base=send.retry_base.total_seconds(),
                        cap=send.retry_max.total_seconds(),
                        jitter=min(max(self._jitter(), 0.0), 0.999999),
                    )
                )
        return SendResult(
            BatchState.FAILED, error=f"gave up after {attempts} attempts: {last}", attempts=attempts
        )

    def _post(self, body: dict[str, Any]) -> _Outcome:
        self.requests += 1
        timeout = self.config.send.request_timeout.total_seconds()
        try:
            response = self._client.client.mail.send.post(request_body=body, timeout=timeout)
        except HTTPError as exc:
            return _Outcome(exc.status_code, _headers(exc.headers), exc.body or b"")
        except urllib.error.URLError as exc:
            return _no_answer(exc.reason, self.host, timeout)
        except (OSError, http.client.HTTPException) as exc:
            return _no_answer(exc, self.host, timeout)
        return _Outcome(response.status_code, _headers(response.headers), response.body or b"")

    def close(self) -> None:
        pass


def _no_answer(reason: object, host: str, timeout: float) -> _Outcome:
    """A request without an HTTP answer: refused before it was sent (retry, then
    fail), or lost after it may have arrived (ambiguous)."""
    if isinstance(reason, TimeoutError | socket.timeout):
        return _Outcome(
            None,
            error=f"no answer from SendGrid at {host} within {timeout:g}s: it may have "
            "accepted the batch; check its activity feed, then resend with --retry-ambiguous",
            ambiguous=True,
        )
    if isinstance(reason, socket.gaierror):
        return _Outcome(None, error=f"cannot resolve SendGrid's host {host}: {reason}", fatal=True)
    if isinstance(reason, ConnectionRefusedError):
        return _Outcome(None, error=f"cannot reach SendGrid at {host}: {reason}")
    return _Outcome(
        None,
        error=f"the connection to SendGrid at {host} broke during the request ({reason}); "
        "it may have accepted the batch",
        ambiguous=True,
    )


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    items = raw.items() if hasattr(raw, "items") else []
    # Header names are case-insensitive; keep the spellings the decisions look up.
    found = {str(k).lower(): str(v) for k, v in items}
    canonical = ("X-Message-Id", "X-RateLimit-Reset", "Retry-After")
    return {name: found[name.lower()] for name in canonical if name.lower() in found}
