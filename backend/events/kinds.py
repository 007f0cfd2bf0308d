"""The catalogue of event kinds and notification channels: the one list shared by the contexts
that write events to the outbox (journal, schools, accounts, messaging) and by the notifications
worker that reads them. It lives in `backend` because `backend` never imports `notifications`.

Who hears about a kind, and how urgently, is the worker's policy (`notifications.kinds`); the
names are here.
"""

from __future__ import annotations

from typing import Final

# ---- event kinds -----------------------------------------------------------------------------

# journal
MARK_CREATED: Final = "mark.created"
MARK_CHANGED: Final = "mark.changed"
MARK_DELETED: Final = "mark.deleted"
FINAL_MARK_SET: Final = "final_mark.set"
ATTENDANCE_ABSENT: Final = "attendance.absent"
ATTENDANCE_LATE: Final = "attendance.late"
ATTENDANCE_CHANGED: Final = "attendance.changed"
HOMEWORK_CREATED: Final = "homework.created"
HOMEWORK_CHANGED: Final = "homework.changed"
REMARK_CREATED: Final = "remark.created"
# schools: timetable, delegates, pupils' movement (`student.<movement>`)
LESSON_CANCELLED: Final = "lesson.cancelled"
LESSON_MOVED: Final = "lesson.moved"
LESSON_REPLACED: Final = "lesson.replaced"
LESSON_RESTORED: Final = "lesson.restored"
LESSONS_CANCELLED_FOR_HOLIDAY: Final = "lessons.cancelled_for_holiday"
DELEGATE_GRANTED: Final = "delegate.granted"
DELEGATE_REVOKED: Final = "delegate.revoked"
STUDENT_MOVEMENT_PREFIX: Final = "student."
# access (turnstiles)
ACCESS_ENTERED: Final = "access.entered"
ACCESS_EXITED: Final = "access.exited"
ACCESS_NOT_ARRIVED: Final = "access.not_arrived"
ACCESS_ABSENT_INSIDE: Final = "access.absent_inside"  # to the class teacher
ACCESS_CARD_REFUSED: Final = "access.card_refused"  # to the school's security staff
ACCESS_PASSED: Final = "access.passed"  # a re-entry: only to families who asked for every pass
ACCESS_CLOCK_SKEW: Final = "access.clock_skew"  # to the school's security staff
# accounts
PASSWORD_RESET_CODE: Final = "account.password_reset_code"
# meals: a pupil's available money fell below the guardian's threshold
MEALS_LOW_BALANCE: Final = "meals.low_balance"
# messaging
ANNOUNCEMENT_CREATED: Final = "announcement.created"
DELIVERY_REPLAY: Final = "messaging.replay"  # an operator sends a failed delivery again

# Kinds families hear about, and may set preferences for ("*" in a preference is all of them).
NOTIFIED: Final = (
    MARK_CREATED,
    MARK_CHANGED,
    FINAL_MARK_SET,
    ATTENDANCE_ABSENT,
    ATTENDANCE_LATE,
    HOMEWORK_CREATED,
    REMARK_CREATED,
    ACCESS_ENTERED,
    ACCESS_EXITED,
    ACCESS_NOT_ARRIVED,
    ACCESS_ABSENT_INSIDE,
    ACCESS_PASSED,
    MEALS_LOW_BALANCE,
    ANNOUNCEMENT_CREATED,
)
# Kinds nobody hears about unless they set a preference for exactly that kind.
OPT_IN: Final = (ACCESS_PASSED,)
# Kinds for school staff by role (not families).
STAFF_NOTIFIED: Final = (ACCESS_CARD_REFUSED, ACCESS_CLOCK_SKEW)

# ---- channels --------------------------------------------------------------------------------

PUSH: Final = "push"
TELEGRAM: Final = "telegram"
MAX: Final = "max"  # the MAX messenger (VK), where Russian schools' official chats are
EMAIL: Final = "email"
SMS: Final = "sms"
CHANNELS: Final = (PUSH, TELEGRAM, MAX, EMAIL, SMS)
# Channels that reach a person in a chat linked through the family bot (`MessengerChat`).
MESSENGERS: Final = (TELEGRAM, MAX)
# When a channel cannot reach the person, the next one takes over; SMS costs money: last.
FALLBACK_ORDER: Final = (PUSH, TELEGRAM, MAX, EMAIL, SMS)
