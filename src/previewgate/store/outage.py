"""Telling "the store cannot be reached" apart from every other database error.

An unreachable store is the operator's transient problem, not a bug and not the caller's
fault: the API answers 503 with ``STORE_UNAVAILABLE`` and a ``Retry-After``, never 500.
What counts (PostgreSQL through asyncpg, SQLite through aiosqlite):

* SQLAlchemy ``OperationalError`` / ``InterfaceError``, or any ``DBAPIError`` that
  invalidated its connection (reset, closed in the middle of an operation);
* SQLSTATE class 08 (connection exception), 53 (insufficient resources, e.g. too many
  connections) and 57P (server shutting down or starting up);
* SQLAlchemy's pool ``TimeoutError`` (no connection could be checked out in time);
* an ``OSError`` (refused, reset, timed out) raised inside the driver or the pool, which
  connect attempts let through unwrapped.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import exc as sa_exc

STORE_UNAVAILABLE = "the store is unavailable; retry shortly"
RETRY_AFTER_S = 5
_UNREACHABLE_SQLSTATES = ("08", "53", "57P")
_DRIVER_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")


def sqlstate(exc: sa_exc.DBAPIError) -> str:
    """The SQLSTATE behind a driver error, or "" when the driver gives none."""
    for cause in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str):
            return state
    return ""


def is_store_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` means the store could not be reached or used, not a bad query."""
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        return sqlstate(exc).startswith(_UNREACHABLE_SQLSTATES)
    if isinstance(exc, OSError):
        return _raised_in_driver(exc.__traceback__)
    return False


def describe(exc: BaseException) -> str:
    """Names only (class, driver class, SQLSTATE): never the statement or its parameters."""
    parts = [type(exc).__name__]
    if isinstance(exc, sa_exc.DBAPIError):
        parts.append(type(exc.orig).__name__)
        cause = getattr(exc.orig, "__cause__", None)
        if cause is not None:
            parts.append(type(cause).__name__)
        state = sqlstate(exc)
        if state:
            parts.append(f"SQLSTATE {state}")
    return ", ".join(parts)


def _raised_in_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DRIVER_MODULES:
            return True
        tb = tb.tb_next
    return False
