"""The store, opened in a process forked as a command starts.

Why: `roundup feeds` and `roundup status` spend most of their time importing, and
their two largest imports need not wait for each other: the config's (pydantic)
and the store's (SQLAlchemy). `fork_early`, called by `bot.__main__` before the
command line's own imports, forks a process that imports the store on the other
core while this one reads its config. `StoreProcess.open(url)` then has it open
the store, and returns it as the command's `Store` (which `open_context` migrates
through it): each method called on it runs in the process, which sends back what
it returned or raised.

Lifetime: the process opens a store only when asked (`roundup feeds --help` opens
none), serves one call at a time, and ends when this process closes its end of the
pipe (`close`, an exit, a signal, a kill): it never outlives the command. A process
never asked to open is killed at exit. If it dies instead (killed, out of memory),
the call waiting on it raises a `StoreError`.
What it does not do: choose which commands use it (`bot.__main__` does), or carry
what cannot be pickled: a method that takes or returns a connection, a generator
or a callback is not for a store opened this way, and the call raises TypeError.
"""

from __future__ import annotations

import atexit
import gc
import os
import pickle
import signal
from collections.abc import Callable
from contextlib import suppress
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

from bot.children import fork_piped, how_it_ended, kill, reap
from bot.errors import StoreError

if TYPE_CHECKING:
    from bot.store.core import Store

# How long `close` waits for the process to close the store and end before killing it.
STOP_SECONDS = 5.0

# The process forked as the command started (`fork_early`), until the command takes it.
_early: StoreProcess | None = None


def fork_early() -> None:
    """Fork the store process now, at the very start of the command, before the
    command line's own imports: `take_early` hands it to the command."""
    global _early
    if _early is None:
        _early = StoreProcess.start()


def take_early() -> StoreProcess | None:
    """The process `fork_early` forked (once), or None."""
    global _early
    process, _early = _early, None
    return process


class StoreProcess:
    """The forked process, seen from the command: `open` once, call, `close`."""

    def __init__(self, pid: int, requests: IO[bytes], replies: IO[bytes]) -> None:
        self.pid = pid
        self._requests = requests
        self._replies = replies
        self._methods: frozenset[str] = frozenset()
        self._opened = False
        self._waiting = False  # a call was sent and its answer not read (Ctrl-C)
        self._status: int | None = None
        atexit.register(self.close)

    @classmethod
    def start(cls) -> StoreProcess | None:
        """Fork the process; None where forking is not safe (another thread runs) or
        possible (no fork): the command then opens its store in-process."""
        forked = fork_piped(_serve)
        if forked is None:
            return None
        pid, request_w, reply_r = forked
        return cls(pid, os.fdopen(request_w, "wb"), os.fdopen(reply_r, "rb"))

    def open(self, url: str) -> Store:
        """Have the process open the store at `url` (as `open_store` does, raising
        what it raises); this object is then that store, seen from here."""
        if self._opened:
            raise RuntimeError("a store process opens one store")
        self._opened = True
        self._methods = frozenset(self._call("open", url))
        return cast("Store", self)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # Only the store's public methods: anything else is no attribute of a store.
        if name not in self.__dict__.get("_methods", ()):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)

    def _call(self, name: str, *args: object, **kwargs: object) -> Any:
        try:
            request = pickle.dumps((name, args, kwargs), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # before anything is written: the pipe stays in step
            raise TypeError(f"a store process cannot take the arguments of {name}: {exc}") from None
        self._waiting = True
        try:
            self._requests.write(request)
            self._requests.flush()
            kind, value = pickle.load(self._replies)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._died(name) from None
        self._waiting = False
        if kind == "error":
            raise value
        return value

    def _died(self, name: str) -> StoreError:
        status = reap(self.pid, STOP_SECONDS)
        self._status = status
        how = "ended" if status is None else how_it_ended(status)
        return StoreError(f"the store process {how} during {name}: run the command again")

    def close(self) -> None:
        """Close the store and end the process: by closing the pipes (it closes its
        store), killed if it lingers; killed at once if it never opened a store, or if
        the command stopped waiting for a call (Ctrl-C): that call's transaction rolls
        back, as it would in-process."""
        if self._status is not None:
            return
        atexit.unregister(self.close)
        if not self._opened or self._waiting:
            kill(self.pid)
        for pipe in (self._requests, self._replies):
            with suppress(OSError):
                pipe.close()
        self._status = reap(self.pid, STOP_SECONDS)
        if self._status is None:
            kill(self.pid)
            self._status = reap(self.pid, None)


def _serve(requests: int, replies: int) -> NoReturn:
    """The forked process: import the store, open it when asked, run each call it is
    sent and answer it, until the command closes the pipe.

    It ends with `os._exit`: what it inherited (the command's buffered output, its
    exit handlers) is the command's, not its own to flush or run.
    """
    code = 1
    store: Store | None = None
    outbox = os.fdopen(replies, "wb")
    try:
        # Ctrl-C reaches the whole process group: the command handles it, and its
        # closing the pipe is what ends this process.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from bot.store.core import open_store  # SQLAlchemy: the point of forking

        if not gc.isenabled():
            # The command paused the collector while it starts up (`bot.__main__.run`).
            gc.freeze()
            gc.enable()
        inbox = os.fdopen(requests, "rb")
        while True:
            try:
                name, args, kwargs = pickle.load(inbox)
            except EOFError:  # the command is done with the store, or gone
                break
            try:
                if name == "open":
                    store = open_store(*args)
                    result: object = _methods(store)
                elif store is None:
                    raise RuntimeError(f"{name} was called before the store was opened")
                else:
                    result = getattr(store, name)(*args, **kwargs)
                reply = _pickled(("ok", result))
            except Exception as exc:  # raised where the command called the method
                reply = _pickled(("error", exc))
            outbox.write(reply)
            outbox.flush()
        code = 0
    except BaseException as exc:  # the next call the command makes raises it
        with suppress(Exception):  # else the command is gone, or done with us
            failed = StoreError(f"the store process failed: {type(exc).__name__}: {exc}")
            outbox.write(pickle.dumps(("error", failed), pickle.HIGHEST_PROTOCOL))
            outbox.flush()
    finally:
        if store is not None:
            with suppress(Exception):
                store.close()
        os._exit(code)


def _methods(store: Store) -> list[str]:
    """The names a store process answers for: the store's public methods but `close`
    (the process's own)."""
    kind = type(store)
    return [
        name
        for name in dir(kind)
        if not name.startswith("_") and name != "close" and callable(getattr(kind, name))
    ]


def _pickled(reply: tuple[str, object]) -> bytes:
    """`reply` pickled; what cannot be pickled becomes an error the command can read.
    (Every class of `bot.errors`, which the store raises, can be: the tests hold each
    class to it.)"""
    try:
        data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        if reply[0] == "error":
            pickle.loads(data)  # an exception whose class cannot be rebuilt from its args
        return data
    except Exception as exc:
        kind, value = reply
        what = f"{type(value).__name__}: {value}" if kind == "error" else type(value).__name__
        problem = TypeError(f"a store process cannot send back {what} ({exc})")
        return pickle.dumps(("error", problem), pickle.HIGHEST_PROTOCOL)
