"""Classifying a feed's items where they were parsed: a function that pickles.

What it does: `BatchClassifier(config)` classifies a batch of items with the
config's region rules, compiled on the first batch. It pickles as its config alone,
so each parse worker that receives it (once, when the worker starts) compiles its
own rules; in the polling process it can use the rules already compiled there.
What it does not do: lint the rules (the polling process does, once: `Context`), or
store anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.classify import WORKER_PRELOAD
from bot.config import Config
from bot.types import Classification, Item

if TYPE_CHECKING:  # compiled on the first batch: a poll where nothing changed has none
    from bot.classify.classifier import Classifier


class BatchClassifier:
    """Classifies items in batches with `config`'s rules (see the module doc)."""

    # What a parse worker imports before it receives one (`ingest.workers`).
    preload = WORKER_PRELOAD

    def __init__(self, config: Config, compiled: Callable[[], Classifier] | None = None) -> None:
        self.config = config
        self._compiled = compiled
        self._classifier: Classifier | None = None

    def __call__(self, items: tuple[Item, ...]) -> tuple[Classification, ...]:
        if self._classifier is None:
            from bot.classify.classifier import Classifier

            self._classifier = self._compiled() if self._compiled else Classifier(self.config)
        classify = self._classifier.classify
        return tuple(classify(item) for item in items)

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}  # compiled rules hold lambdas, and are rebuilt

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]
