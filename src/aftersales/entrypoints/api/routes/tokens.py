"""The caller's API tokens: listing them and revoking one.

Every account lists and revokes its own; operations may name another account
(``?account_id=``, or ``*`` for everyone's) and revoke any token. Another
account's token answers 404, as one that does not exist. Tokens are made with
``aftersales accounts token``; the token itself is shown then and never again,
so nothing here returns it.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services import accounts
from aftersales.services.records import TokenRecord

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], responses=PROBLEMS)
PRINTABLE = r"^[!-~]{1,64}$"  # ids are short printable ASCII: anything else is refused (422)


class TokenOut(BaseModel):
    id: str
    name: str = Field(description="the system that uses it, as named when it was made")
    account_id: str
    username: str
    created_at: datetime
    expires_at: datetime | None = Field(description="None: works until revoked")
    revoked_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenOut]


def _out(t: TokenRecord) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        account_id=t.account.id,
        username=t.account.username,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
    )


@router.get("", response_model=TokenList)
def list_tokens(
    svc: ServicesDep,
    who: Caller,
    account_id: str | None = Query(
        None,
        pattern=PRINTABLE,
        description="operations only: another account's id, or * for all",
    ),
) -> TokenList:
    """The caller's tokens (revoked and expired ones too), newest first."""
    found = accounts.list_tokens(
        svc, role=who.role, caller_id=who.account_id, account_id=account_id
    )
    return TokenList(items=[_out(t) for t in found])


@router.delete("/{token_id}", response_model=TokenOut)
def revoke_token(
    svc: ServicesDep, who: Caller, token_id: str = Path(pattern=PRINTABLE)
) -> TokenOut:
    """Revoke a token: it is refused from the next request on. Revoking it again changes
    nothing."""
    return _out(accounts.revoke_token_of(svc, token_id, role=who.role, caller_id=who.account_id))
