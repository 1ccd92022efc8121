"""A poll's settings as plain values: the config's `fetch` section, copied.

Why: a poll call crosses into the fetch process (`bot.ingest.fetch_process`) as a
pickle, and a pickle of the config's own models would have that process import
pydantic and every model before it could start fetching. `FetchSettings.of`
copies the section's values into a frozen dataclass that needs nothing to be read.
What it does not do: validate or default anything: the config (`bot.config.FetchConfig`)
is where each setting is checked, described and given its default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta


@dataclass(frozen=True)
class FetchSettings:
    """`bot.config.FetchConfig`'s values (see there for what each means)."""

    concurrency: int
    per_host: int
    bodies_in_flight: int
    parse_workers: int | None
    parser: str
    connect_timeout: timedelta
    read_timeout: timedelta
    total_timeout: timedelta
    max_body_bytes: int
    max_redirects: int
    poll_interval: timedelta
    backoff_base: timedelta
    backoff_max: timedelta
    user_agent: str | None

    @classmethod
    def of(cls, section: object) -> FetchSettings:
        """The values of `section` (a `FetchConfig`, or anything with its names)."""
        return cls(**{field.name: getattr(section, field.name) for field in fields(cls)})
