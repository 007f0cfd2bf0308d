"""The accounts service as a Litestar dependency: what controllers of any context declare to be
given it (published for them, like `services`)."""

from __future__ import annotations

from litestar.datastructures import State

from backend.accounts.services import AccountsService
from backend.core.http import NamedDependency

AccountsDep = NamedDependency[AccountsService]


def provide_accounts(state: State) -> AccountsService:
    accounts: AccountsService = state.accounts
    return accounts
