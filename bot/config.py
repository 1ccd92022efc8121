"""Load and validate `config/feeds.yaml` into typed, frozen settings.

What it does: reads the YAML (safely: no tags, no aliases bombs beyond PyYAML's own
limits, a size cap), validates it with pydantic, and on failure raises one
`ConfigError` listing every problem with its file, line and path (``feeds[3].url``):
the schema's, a key written twice, and the checks across keys (`config_checks`), all
in one pass and in the order of their lines.
What it does not do: judge the region rules' meaning (that is `bot.classify`'s
`lint_rules`), read secrets (they come from the environment, see `bot.context`), or
touch the network or the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config_checks import cross_problems, duplicate_keys
from bot.config_checks import slugify as slugify
from bot.errors import ConfigError

MAX_CONFIG_BYTES = 2_000_000
DEFAULT_CONFIG_PATH = Path("config/feeds.yaml")

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """Accept seconds (int) or ``"30s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"1w"``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 6h or 1d")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m and int(m.group(1)) > 0:
            return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"expected a duration such as 30m, 6h or 1d, got {value!r}")


def _check_http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r} (use an IANA name such as UTC)") from exc
    return value


def _check_colour(value: str) -> str:
    if not re.match(r"^#(?:[0-9a-fA-F]{3}){1,2}$", value):
        raise ValueError(f"expected a colour such as #c8102e, got {value!r}")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
Colour = Annotated[str, AfterValidator(_check_colour)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Model):
    name: NonEmpty
    url: HttpUrl
    region: str | None = None  # the feed's default region
    poll_interval: Duration | None = None  # else fetch.poll_interval


class Rule(_Model):
    """One rule of a region: exactly one of tags, keywords or urls.

    `not` lists phrases that stop this rule from firing when found in the same
    fields (a keyword rule's title and lede, a tag rule's tags, a url rule's path).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    tags: tuple[NonEmpty, ...] = ()
    keywords: tuple[NonEmpty, ...] = ()
    urls: tuple[NonEmpty, ...] = ()
    exclude: tuple[NonEmpty, ...] = Field(default=(), alias="not")
    fields: tuple[Literal["title", "lede"], ...] = ("title", "lede")
    # How much each match of this rule weighs against other regions' evidence
    # (1: the kind's own weight). Leaders' names, say, weigh less than countries.
    weight: Annotated[float, Field(gt=0, le=10)] = 1.0

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [k for k in ("tags", "keywords", "urls") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a rule needs exactly one of tags, keywords or urls, non-empty")
        return self

    @property
    def kind(self) -> str:
        return "tag" if self.tags else "url" if self.urls else "keyword"

    @property
    def patterns(self) -> tuple[str, ...]:
        return self.tags or self.urls or self.keywords


class RegionConfig(_Model):
    name: NonEmpty
    slug: str | None = None
    aliases: tuple[NonEmpty, ...] = ()
    rules: tuple[Rule, ...] = ()

    @property
    def id(self) -> str:
        return self.slug or slugify(self.name)


class FallbackConfig(_Model):
    name: NonEmpty = "More from the site"
    slug: str | None = None

    @property
    def id(self) -> str:
        return self.slug or slugify(self.name)


RuleKind = Literal["tag", "url", "keyword", "feed"]


class SharedName(_Model):
    """A name several places (or people) share, qualified once for every region.

    A keyword match of `name` (a word or phrase; "Sudan*" for a stem) does not
    count when the words right before it are one of `not_after` ("South" for
    "Sudan"), when the words right after it are one of `not_before` ("Idaho"
    for "Moscow", punctuation between ignored), or when one of `not_with` is
    anywhere in the story's title or lede ("Atlanta" for "Georgia").
    """

    name: NonEmpty
    not_before: tuple[NonEmpty, ...] = ()
    not_after: tuple[NonEmpty, ...] = ()
    not_with: tuple[NonEmpty, ...] = ()


class ClassifyConfig(_Model):
    precedence: tuple[RuleKind, ...] = ("tag", "url", "keyword", "feed")
    # Shared names, qualified once (see SharedName).
    names: tuple[SharedName, ...] = ()
    # A runner-up whose score is at least this share of the winner's makes the
    # placement "uncertain" (flagged for an editor).
    near_tie: Annotated[float, Field(gt=0, le=1)] = 0.8

    @field_validator("precedence")
    @classmethod
    def _all_kinds_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if sorted(value) != sorted(("tag", "url", "keyword", "feed")):
            raise ValueError("precedence must name tag, url, keyword and feed, each once")
        return value


# `fetch.parser`: see `bot.ingest.parse`.
ParserName = Literal["fastfeedparser", "feedparser"]
PARSERS: tuple[ParserName, ...] = get_args(ParserName)


class FetchConfig(_Model):
    # Requests at a time; `per_host` is the politeness limit towards one host. A
    # poll of hundreds of feeds spread over many hosts waits on their latency, not
    # on our CPU (300 unchanged feeds at 50 ms on 30 hosts: 0.9 s at 32, 0.4 s at 128).
    concurrency: Annotated[int, Field(ge=1, le=256)] = 128
    per_host: Annotated[int, Field(ge=1, le=64)] = 4
    # Bodies being read or waiting to be parsed, at most: what bounds memory
    # (bodies_in_flight x max_body_bytes), whatever the number of requests.
    bodies_in_flight: Annotated[int, Field(ge=1, le=256)] = 32
    # Processes that parse and normalise bodies: None is one per core, 1 parses
    # in a thread of the polling process.
    parse_workers: Annotated[int | None, Field(ge=1, le=64)] = None
    # fastfeedparser reads the plain feeds (nearly all) with feedparser's results and
    # hands every other feed to feedparser: a 150 KB feed parses and normalises in
    # 6 ms instead of 18 (bench/bench_parse.py). "feedparser" reads every feed.
    parser: ParserName = "fastfeedparser"
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=30)
    total_timeout: Duration = timedelta(seconds=60)
    max_body_bytes: Annotated[int, Field(ge=1024)] = 10_000_000
    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    poll_interval: Duration = timedelta(minutes=30)
    backoff_base: Duration = timedelta(minutes=5)
    backoff_max: Duration = timedelta(hours=24)
    user_agent: str | None = None  # default names roundup and its version


class Sender(_Model):
    email: NonEmpty
    name: str = ""


class Brand(_Model):
    accent_color: Colour = "#c8102e"
    text_color: Colour = "#1a1a1a"
    muted_color: Colour = "#5f6368"
    background_color: Colour = "#ffffff"
    logo_url: str | None = None
    logo_width: int = 200
    logo_height: int = 40
    heading_font: str = "Georgia, 'Times New Roman', Times, serif"
    body_font: str = "Helvetica, Arial, sans-serif"


class Utm(_Model):
    source: str = "newsletter"
    medium: str = "email"
    campaign: str = "weekly-roundup-{edition}"


class Caps(_Model):
    per_region: Annotated[int, Field(ge=1)] = 8
    total: Annotated[int, Field(ge=1)] = 25


class Link(_Model):
    label: NonEmpty
    url: HttpUrl


class NewsletterConfig(_Model):
    name: NonEmpty = "Weekly Round-Up"
    publication: NonEmpty
    site_url: HttpUrl
    sender: Sender
    reply_to: str | None = None
    postal_address: NonEmpty
    timezone: TimeZoneName = "UTC"
    pitch: str = ""
    subject: str = "{name}: {date}"
    # Story types recognised among an item's tags; the first found is the kicker's
    # first half ("Analysis | Middle East").
    kinds: tuple[str, ...] = ("Analysis", "Opinion", "News", "Reporting", "Interview", "Review")
    follow: tuple[Link, ...] = ()
    brand: Brand = Brand()
    utm: Utm = Utm()
    caps: Caps = Caps()
    base_url: HttpUrl | None = None  # where the web app is reached (links in emails)
    unsubscribe_mailto: str | None = None


class ScheduleConfig(_Model):
    poll_every: Duration = timedelta(minutes=30)
    draft: str = "thu 09:00"  # day and time, newsletter timezone
    send: str = "fri 07:00"
    # An edition approved late is still sent up to this long after `send`; then
    # it is marked missed and ops are told.
    send_deadline: Duration = timedelta(hours=12)
    # A week with fewer new stories than this drafts nothing (ops are told why).
    min_stories: Annotated[int, Field(ge=0)] = 3
    # A draft or send whose time passed while roundup was down runs on start when
    # it is at most this late; later, it is reported and not run.
    grace: Duration = timedelta(hours=6)
    # The scheduler's lease: renewed every third of this; a standby takes over
    # when it lapses (at once when the holder was a process on this host that ended).
    lease_ttl: Duration = timedelta(seconds=60)

    @field_validator("draft", "send")
    @classmethod
    def _day_time(cls, value: str) -> str:
        if not re.match(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError(f"expected a day and time such as 'fri 07:00', got {value!r}")
        return value


class AlertsConfig(_Model):
    """When a failing feed alerts ops, and where alerts and notices go."""

    feed_failures: Annotated[int, Field(ge=1)] = 3  # consecutive failed polls
    feed_down_for: Duration = timedelta(hours=6)  # or no success for this long
    # Ops addresses for alerts and scheduler notices (an empty list: the log only).
    to: tuple[str, ...] = ()

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", address):
                raise ValueError(f"expected an email address, got {address!r}")
        return value


class SendConfig(_Model):
    """How editions are delivered (secrets such as SENDGRID_API_KEY live in the environment)."""

    # auto: sendgrid when SENDGRID_API_KEY is set, else the offline outbox.
    transport: Literal["auto", "outbox", "sendgrid"] = "auto"
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 1000  # SendGrid's personalization cap
    categories: tuple[str, ...] = ("roundup",)
    outbox_dir: str = "var/outbox"
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    retry_base: Duration = timedelta(seconds=2)
    retry_max: Duration = timedelta(seconds=60)
    request_timeout: Duration = timedelta(seconds=30)
    # The send's lease, renewed every third of it while the send runs: a send that
    # died is found out within this (at once on the same host).
    lease_ttl: Duration = timedelta(seconds=60)
    # How long an ambiguous batch waits for the webhook's evidence before
    # --retry-ambiguous may resend it.
    settle_after: Duration = timedelta(minutes=15)
    test_prefix: str = "[TEST] "


class SubscriptionsConfig(_Model):
    """Public sign-up and the lifetimes of the signed links in emails."""

    confirm_max_age: Duration = timedelta(days=7)
    # A pending address signed up again is mailed again at most this often, so the
    # form cannot be used to flood someone's inbox with confirmation requests.
    resend_after: Duration = timedelta(minutes=10)
    link_max_age: Duration = timedelta(days=365)  # unsubscribe and preferences links


class DeskConfig(_Model):
    """The editors' desk: how long a login lasts and how many wrong passwords it takes."""

    session_idle: Duration = timedelta(hours=2)  # no request for this long: log in again
    session_max: Duration = timedelta(hours=12)  # after this, log in again whatever
    login_window: Duration = timedelta(minutes=15)
    # Failed logins within login_window before further attempts are refused.
    login_per_account: Annotated[int, Field(ge=1, le=1000)] = 5
    login_per_address: Annotated[int, Field(ge=1, le=10_000)] = 20


class Config(_Model):
    newsletter: NewsletterConfig
    feeds: tuple[FeedConfig, ...]
    regions: tuple[RegionConfig, ...]
    fallback: FallbackConfig = FallbackConfig()
    classify: ClassifyConfig = ClassifyConfig()
    fetch: FetchConfig = FetchConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()
    send: SendConfig = SendConfig()
    subscriptions: SubscriptionsConfig = SubscriptionsConfig()
    desk: DeskConfig = DeskConfig()

    @field_validator("feeds", "regions")
    @classmethod
    def _not_empty(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        # A validator, not min_length: it runs only when every element is valid,
        # so a bad element is not also reported as "empty".
        if not value:
            raise ValueError("name at least one")
        return value

    @property
    def region_names(self) -> tuple[str, ...]:
        """Section names in the configured order, fallback last."""
        return (*(r.name for r in self.regions), self.fallback.name)

    def feed(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)


# --- loading with line numbers ---------------------------------------------


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases: a config needs none, and they are
    how a small YAML file expands into a huge one ("billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                "while composing", None, "aliases are not allowed in the config", event.start_mark
            )
        return super().compose_node(parent, index)


def _lines(
    node: yaml.Node, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """Yield (path, 1-based line) for every node under `node`."""
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            # The key's own line names the path; the value may start on a later line.
            yield (*path, name), key.start_mark.line + 1
            inner = _lines(value, (*path, name))
            next(inner)
            yield from inner
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            yield from _lines(value, (*path, i))


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_config(path: Path | str = DEFAULT_CONFIG_PATH) -> Config:
    """Read and validate the config file; raise `ConfigError` listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config is larger than {MAX_CONFIG_BYTES} bytes")
    return parse_config(raw.decode("utf-8", errors="replace"), str(path))


def _compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, read once.

    With libyaml (nearly always) the C parser composes the tree, a walk refuses any
    alias (a node reached twice) before anything is constructed, and the data is
    built from that tree: every start pays for one fast parse, not two slow ones.
    """
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None:
        node = yaml.compose(text, Loader=_NoAliasLoader)
        return node, yaml.load(text, Loader=_NoAliasLoader) if node is not None else None
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _refuse_aliases(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_aliases(root: yaml.Node) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise yaml.MarkedYAMLError(
                "while composing", None, "aliases are not allowed in the config", node.start_mark
            )
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        node, data = _compose_and_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError(
            f"{source} is not valid YAML",
            (f"{source}:{line}: {exc.problem or exc.context}",),
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping with feeds, regions, newsletter")
    found = [
        (line, f"{source}:{line}: {format_path(path)}: written twice (first on line {first})")
        for path, line, first in (duplicate_keys(node) if node is not None else ())
    ]
    config = None
    errors: list[Any] = []
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    crossed = list(cross_problems(data, FallbackConfig().name))
    if config is None or found or crossed:
        # Every node's line, wanted only to point at problems: a walk of the whole
        # tree, which a good config (every start) does not pay for.
        lines = dict(_lines(node)) if node is not None else {}
        found.extend(_describe_error(e, source, lines) for e in errors)
        found.extend(_describe(loc, msg, source, lines) for loc, msg in crossed)
        found.sort(key=lambda problem: problem[0])  # stable: same line, found order
        raise ConfigError(
            f"{source}: {len(found)} problem(s) in the config",
            tuple(text for _, text in found),
        )
    return config


def _describe_error(
    error: Any, source: str, lines: dict[tuple[str | int, ...], int]
) -> tuple[int, str]:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "required, but missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling)"
    return _describe(loc, message, source, lines)


def _describe(
    loc: tuple[str | int, ...], message: str, source: str, lines: dict[tuple[str | int, ...], int]
) -> tuple[int, str]:
    """(line, the problem as shown): walks up to a path that exists in the file (a
    missing key: its parent)."""
    probe = loc
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe, 1)
    return line, f"{source}:{line}: {format_path(loc)}: {message}"
