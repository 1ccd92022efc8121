"""Classifying a feed's items where they were parsed: a function that pickles.

What it does: `BatchClassifier(config)` classifies a batch of items with the
config's region rules, compiled on the first batch. It pickles as its config alone,
so each parse worker that receives it (once, when the worker starts) compiles its
own rules; in the polling process it can use the rules already compiled there.
The config inside is a pickle of its own, read at the first batch: a process that
only hands the classifier on (the poll's fetch process, to its parse workers) never
imports the config's models.
What it does not do: lint the rules (the polling process does, once: `Context`), or
store anything.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.classify import WORKER_PRELOAD

if TYPE_CHECKING:  # compiled on the first batch: a poll where nothing changed has none
    from bot.classify.classifier import Classifier
    from bot.config import Config
    from bot.types import Classification, Item


class BatchClassifier:
    """Classifies items in batches with `config`'s rules (see the module doc)."""

    # What a parse worker imports before it receives one (`ingest.workers`).
    preload = WORKER_PRELOAD

    def __init__(self, config: Config, compiled: Callable[[], Classifier] | None = None) -> None:
        self._config: Config | None = config
        self._pickled: bytes | None = None
        self._compiled = compiled
        self._classifier: Classifier | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            assert self._pickled is not None
            self._config = pickle.loads(self._pickled)
        return self._config

    def __call__(self, items: tuple[Item, ...]) -> tuple[Classification, ...]:
        if self._classifier is None:
            from bot.classify.classifier import Classifier

            self._classifier = self._compiled() if self._compiled else Classifier(self.config)
        classify = self._classifier.classify
        return tuple(classify(item) for item in items)

    def __eq__(self, other: object) -> bool:
        # Two of one config classify alike, whichever process compiled the rules: a
        # poll call made ahead of the store and the poll's own are the same call.
        return isinstance(other, BatchClassifier) and self.config == other.config

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        # The config alone: compiled rules hold lambdas, and are rebuilt.
        if self._pickled is None:
            self._pickled = pickle.dumps(self._config, pickle.HIGHEST_PROTOCOL)
        return {"config": self._pickled}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._config = None
        self._pickled = state["config"]
        self._compiled = None
        self._classifier = None
