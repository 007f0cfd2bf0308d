"""Every route of the staff web, composed once for `backend/app.py`. A section's module adds its
Controller here (and its line to `backend/web/nav.py`)."""

from __future__ import annotations

from typing import Any

from backend.web.entries import EntriesController
from backend.web.journal_more import JournalMoreController
from backend.web.meals import MealsWebController
from backend.web.messages import MessagesController
from backend.web.pages import STATIC_ROUTER, StaffWebController
from backend.web.people import PeopleController
from backend.web.people_accounts import PeopleAccountsController
from backend.web.people_audit import PeopleAuditController
from backend.web.people_files import PeopleFilesController
from backend.web.reports import ReportsWebController
from backend.web.timetable import TimetableController
from backend.web.year import YearController

CONTROLLERS: tuple[Any, ...] = (
    StaffWebController,
    JournalMoreController,
    PeopleController,
    TimetableController,
    YearController,
    MessagesController,
    PeopleFilesController,
    PeopleAuditController,
    ReportsWebController,
    PeopleAccountsController,
    EntriesController,
    MealsWebController,
    STATIC_ROUTER,
)
