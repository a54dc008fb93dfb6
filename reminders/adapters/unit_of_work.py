"""A transaction with its repositories: commit explicitly, roll back on leaving otherwise.

Errors that mean the transaction lost a race (deadlock, serialization failure, a lock that
could not be had in time) leave as `ConcurrentUpdate`, so that callers can run the whole unit
of work again; errors that mean the database is out of reach leave as `DatabaseUnavailable`.
Neither carries the statement's parameters.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from reminders.adapters.db import SQLITE_IMMEDIATE
from reminders.adapters.repository import (
    DispatcherRepository,
    MessageRepository,
    ReminderRepository,
    ReplyLogRepository,
    SessionRepository,
    UserRepository,
)
from reminders.ports import ConcurrentUpdate, DatabaseUnavailable
from reminders.ports import DispatcherRepository as DispatcherPort
from reminders.ports import MessageRepository as MessagePort
from reminders.ports import ReminderRepository as ReminderPort
from reminders.ports import ReplyLogRepository as ReplyLogPort
from reminders.ports import SessionRepository as SessionPort
from reminders.ports import UserRepository as UserPort

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_RACE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
_SQLITE_BUSY = 5  # also SQLITE_BUSY_SNAPSHOT and the like, in the low byte


def translate(error: BaseException) -> Exception | None:
    """The port-level error for a database error, or None when it is not one of those."""
    if not isinstance(error, DBAPIError):
        return None
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in _RACE_SQLSTATES:
        return ConcurrentUpdate(f"lost a race with another transaction (SQLSTATE {sqlstate})")
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == _SQLITE_BUSY:
        # It has waited busy_timeout (10 s) already: running it again would only wait longer.
        return DatabaseUnavailable("the database stayed locked by another writer")
    if error.connection_invalidated or (
        isinstance(error, OperationalError) and (sqlstate is None or sqlstate.startswith("08"))
    ):
        return DatabaseUnavailable(f"the database is unavailable ({type(original).__name__})")
    return None


class SqlAlchemyUnitOfWork:
    """With `autocommit`, each statement is a transaction of its own: for work that is a
    single statement, it saves the round trips of BEGIN and COMMIT (PostgreSQL).

    Unless `read_only`, a transaction on SQLite takes the write lock when it begins, so that
    writers never interleave; on PostgreSQL writers take row locks in one order instead
    (the user's row first, see UserRepository.lock)."""

    # Typed as the ports: the UnitOfWork protocol's attributes are settable, so they must
    # have exactly its types.
    users: UserPort
    sessions: SessionPort
    reminders: ReminderPort
    messages: MessagePort
    reply_log: ReplyLogPort
    dispatchers: DispatcherPort

    def __init__(
        self, engine: Engine, *, autocommit: bool = False, read_only: bool = False
    ) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._read_only = read_only
        self._connection: Connection | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        try:
            connection = self._engine.connect()
            if self._autocommit:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            elif not self._read_only:
                connection = connection.execution_options(**{SQLITE_IMMEDIATE: True})
            connection.begin()
        except DBAPIError as exc:
            raise (translate(exc) or exc) from exc
        self._connection = connection
        self.users = UserRepository(connection)
        self.sessions = SessionRepository(connection)
        self.reminders = ReminderRepository(connection)
        self.messages = MessageRepository(connection)
        self.reply_log = ReplyLogRepository(connection)
        self.dispatchers = DispatcherRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if self._connection.in_transaction():
                self._connection.rollback()
        except DBAPIError:
            if exc is None:
                raise
            # The connection is gone too; the error that brought us here says more.
        finally:
            self._connection.close()
            self._connection = None
        if exc is not None:
            translated = translate(exc)
            if translated is not None:
                raise translated from exc

    def commit(self) -> None:
        """Commit; the next statement begins a new transaction by itself. (Beginning it here
        could fail after the commit succeeded, on SQLite waiting for the write lock, and
        make a caller believe that what it committed was lost.)"""
        assert self._connection is not None
        try:
            self._connection.commit()
        except DBAPIError as exc:
            raise (translate(exc) or exc) from exc

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        assert self._connection is not None
        self._connection.execute(text("SELECT 1"))


class SqlAlchemyUnitOfWorkFactory:
    """Units of work on one engine (the port's UnitOfWorkFactory). Work that is one statement
    runs in autocommit mode on PostgreSQL, which saves the round trips of BEGIN and COMMIT;
    SQLite keeps its transactions (its writers take the write lock at BEGIN)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._autocommit_statements = engine.dialect.name == "postgresql"

    def __call__(
        self, *, read_only: bool = False, one_statement: bool = False
    ) -> SqlAlchemyUnitOfWork:
        autocommit = one_statement and self._autocommit_statements
        return SqlAlchemyUnitOfWork(self._engine, autocommit=autocommit, read_only=read_only)
