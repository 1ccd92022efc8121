"""The one factory that wires config, store and clock together.

The CLI, the web app, the scheduler and the tests all start here: `open_context`
loads and validates the config, opens the store named by `DATABASE_URL` (SQLite
under `var/` by default) and migrates it, and hands back a `Context`. The region
rules are compiled, and linted (warnings, not errors), when a command first
classifies (`Context.classifier`): a command that only reads the store pays for
neither. It does no work of its own beyond that.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import Clock, clock_from_env
from bot.config import DEFAULT_CONFIG_PATH, Config, load_config

if TYPE_CHECKING:
    from bot.classify.classifier import Classifier
    from bot.store import Store

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///var/roundup.db"


def config_path_from_env(path: Path | str | None = None) -> Path:
    """The config file: the argument, else `ROUNDUP_CONFIG`, else config/feeds.yaml."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("ROUNDUP_CONFIG") or DEFAULT_CONFIG_PATH)


def database_url_from_env(url: str | None = None) -> str:
    return url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


@dataclass
class Context:
    """Everything a command needs: validated config, an open store, the clock."""

    config: Config
    store: Store
    clock: Clock
    config_path: Path
    warnings: list[str] = field(default_factory=list)
    _classifier: Classifier | None = None
    _linted: list[str] | None = None
    # The poll's parse threads and its store thread may all ask for the rules first.
    _rules_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def classifier(self) -> Classifier:
        """The compiled region rules; the first use logs what `lint_rules` finds."""
        with self._rules_lock:
            if self._classifier is None:
                from bot.classify.classifier import Classifier

                self.check_rules()
                self._classifier = Classifier.from_config(self.config)
            return self._classifier

    def check_rules(self) -> list[str]:
        """What `lint_rules` finds in the region rules; logged the first time only.

        Called when the rules are first compiled here, or when the parse workers
        classify a poll's stories with rules compiled there."""
        with self._rules_lock:
            if self._linted is None:
                from bot.classify.lint import lint_rules

                self._linted = self.warnings = lint_rules(self.config)
                for warning in self.warnings:
                    log.warning("config: %s", warning)
            return self._linted

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_context(
    config: Config | Path | str | None = None,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    migrate: bool = True,
    config_path: Path | None = None,
    opener: Callable[[str], Store] | None = None,
) -> Context:
    """Load the config (or take it, read from `config_path`), open (and by default
    migrate) the store: with `opener` if given (a store process's `open`), else
    `open_store`."""
    if isinstance(config, Config):
        cfg, path = config, config_path or Path("<config>")
    else:
        path = config_path_from_env(config)
        cfg = load_config(path)
    url = database_url_from_env(database_url)
    if opener is not None:
        store = opener(url)
    else:
        # Imported here: a command can load its config (`load_config`) before it
        # pays for the store's imports, as `roundup poll` does (see `bot.cli.feeds`).
        from bot.store import open_store

        store = open_store(url)
    if migrate:
        store.upgrade()
    return Context(cfg, store, clock or clock_from_env(), path)
