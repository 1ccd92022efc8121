"""Pure decisions of the SendGrid transport: what a response means and how long to wait.

What it does: classifies an HTTP status (accepted, retry, fail), computes the wait
before the next attempt (exponential backoff with jitter, never sooner than the
provider's ``X-RateLimit-Reset`` or ``Retry-After``, never longer than the cap),
and turns a SendGrid error body into one bounded line for the operator.
What it does not do: sleep, read a clock or talk to the network; the caller passes
`now` (epoch seconds) and a jitter draw in [0, 1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum

MAX_ERROR_CHARS = 500
MAX_ERROR_BODY = 64 * 1024  # a larger error body is not parsed, only reported
# Statuses that refuse every request alike (the API key): the send stops.
WHOLE_TRANSPORT = frozenset({401, 403})


class Verdict(Enum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    FAIL = "fail"


def verdict(status: int) -> Verdict:
    """2xx accepted; 429 and 5xx worth another attempt; anything else refused."""
    if 200 <= status < 300:
        return Verdict.ACCEPTED
    if status == 429 or 500 <= status < 600:
        return Verdict.RETRY
    return Verdict.FAIL


def provider_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the provider asks us to wait: X-RateLimit-Reset (an epoch time) or
    Retry-After (seconds); None when it says nothing usable."""
    reset = _number(headers.get("X-RateLimit-Reset"))
    if reset is not None:
        return max(0.0, reset - now)
    after = _number(headers.get("Retry-After"))
    if after is not None:
        return max(0.0, after)
    return None


def backoff(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """The wait after failed attempt `attempt` (1 = the first): base * 2^(attempt-1),
    capped, then scaled into [half, all] of itself by `jitter` so that many senders
    do not retry in step."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter is a draw in [0, 1)")
    exp = min(cap, base * 2.0 ** min(attempt - 1, 32))
    return exp * (0.5 + jitter / 2.0)


def retry_wait(
    attempt: int,
    headers: Mapping[str, str],
    *,
    now: float,
    base: float,
    cap: float,
    jitter: float,
) -> float:
    """The wait before the next attempt: backoff, but at least what the provider
    asked for, and never more than `cap` (an untrusted header cannot stall a send)."""
    wait = backoff(attempt, base=base, cap=cap, jitter=jitter)
    asked = provider_wait(headers, now)
    if asked is not None:
        wait = max(wait, asked)
    return min(cap, wait)


def error_message(status: int, body: bytes) -> str:
    """One line for the operator from a SendGrid error response (its `errors` array)."""
    detail = ""
    if len(body) <= MAX_ERROR_BODY:
        detail = _errors_text(body)
    if not detail:
        snippet = body[:200].decode("utf-8", "replace").strip()
        detail = " ".join(snippet.split()) or "no error message in the response"
    text = f"SendGrid answered {status}: {detail}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _errors_text(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors[:10]:
        if not isinstance(error, dict):
            continue
        message = str(error.get("message") or "").strip()
        field = error.get("field")
        if message:
            parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) < 1e12 else None  # not NaN, sane
