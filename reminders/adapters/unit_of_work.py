"""A transaction with its repositories: commit explicitly, roll back on leaving otherwise."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from reminders.adapters.repository import (
    MessageRepository,
    ReminderRepository,
    ReplyLogRepository,
    SessionRepository,
    UserRepository,
)


class SqlAlchemyUnitOfWork:
    """With `autocommit`, each statement is a transaction of its own: for work that is a
    single statement, it saves the round trips of BEGIN and COMMIT (PostgreSQL)."""

    users: UserRepository
    sessions: SessionRepository
    reminders: ReminderRepository
    messages: MessageRepository
    reply_log: ReplyLogRepository

    def __init__(self, engine: Engine, *, autocommit: bool = False) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._connection: Connection | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        connection = self._engine.connect()
        if self._autocommit:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.begin()
        self._connection = connection
        self.users = UserRepository(connection)
        self.sessions = SessionRepository(connection)
        self.reminders = ReminderRepository(connection)
        self.messages = MessageRepository(connection)
        self.reply_log = ReplyLogRepository(connection)
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
        finally:
            self._connection.close()
            self._connection = None

    def commit(self) -> None:
        assert self._connection is not None
        self._connection.commit()
        self._connection.begin()

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        from sqlalchemy import text

        assert self._connection is not None
        self._connection.execute(text("SELECT 1"))
