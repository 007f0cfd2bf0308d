"""Who is asking: the actor a service acts for (principal, address, request id).

Controllers build an `Actor` from the request and pass it to services explicitly; services use it
for rights checks and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.rights import Principal


@dataclass(frozen=True, slots=True)
class Actor:
    principal: Principal | None
    ip: str = ""
    request_id: str = ""
    user_agent: str = ""

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None

    @classmethod
    def system(cls) -> Actor:
        """The system itself (commands, jobs): no principal, full trust, still audited."""
        return cls(principal=None, ip="", request_id="system")
