"""How often the sign-up form may be used: per client address and per mailbox.

What it does: counts sign-ups in a sliding window, in memory, under two keys: the
client's address, and the mailbox (`bot.store.subscribers.email_key`, so every
spelling of one address shares a count). A sign-up over either limit is refused
before anything is stored or mailed. Memory is bounded: at most `MAX_KEYS` keys,
the least recently used forgotten first, and at most `limit` times per key.
What it does not do: share counts between processes (each `roundup serve` counts
its own), or read proxy headers (uvicorn puts the client's address in the request
when ``--forwarded-allow-ips`` trusts the proxy).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_KEYS = 50_000
PER_CLIENT = 20  # sign-ups from one address per window: a household, an office
PER_MAILBOX = 5  # sign-ups of one mailbox per window, in any spelling
WINDOW = timedelta(hours=1)


@dataclass
class SlidingWindow:
    """At most `limit` events per key within `window`."""

    limit: int
    window: timedelta
    max_keys: int = MAX_KEYS

    def __post_init__(self) -> None:
        self._times: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, now: datetime) -> bool:
        """Count an event of `key` at `now`; False (and not counted) over the limit."""
        with self._lock:
            times = self._times.pop(key, None) or deque(maxlen=self.limit)
            while times and now - times[0] >= self.window:
                times.popleft()
            self._times[key] = times  # most recently used last
            while len(self._times) > self.max_keys:
                self._times.popitem(last=False)
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True


@dataclass
class SignupLimits:
    per_client: SlidingWindow
    per_mailbox: SlidingWindow

    @classmethod
    def default(cls) -> SignupLimits:
        return cls(SlidingWindow(PER_CLIENT, WINDOW), SlidingWindow(PER_MAILBOX, WINDOW))

    def allow(self, client: str, mailbox_key: str, now: datetime) -> bool:
        # A client over its limit uses up no mailbox's count.
        return self.per_client.allow(client, now) and self.per_mailbox.allow(mailbox_key, now)
