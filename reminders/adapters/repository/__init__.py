"""SQL for the unit of work: every query the services need, each served by an index."""

from reminders.adapters.repository.dispatchers import DispatcherRepository
from reminders.adapters.repository.messages import MessageRepository
from reminders.adapters.repository.reminders import ReminderRepository
from reminders.adapters.repository.sessions import SessionRepository
from reminders.adapters.repository.users import ReplyLogRepository, UserRepository

__all__ = [
    "DispatcherRepository",
    "MessageRepository",
    "ReminderRepository",
    "ReplyLogRepository",
    "SessionRepository",
    "UserRepository",
]
