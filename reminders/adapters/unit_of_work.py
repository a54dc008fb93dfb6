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
    users: UserRepository
    sessions: SessionRepository
    reminders: ReminderRepository
    messages: MessageRepository
    reply_log: ReplyLogRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        connection = self._engine.connect()
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
