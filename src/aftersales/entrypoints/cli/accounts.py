"""The ``accounts`` group: people who sign in to the pages, and API tokens for systems."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    console,
    duration,
    open_container,
)
from aftersales.errors import AftersalesError

app = typer.Typer(no_args_is_help=True, help="People and systems who sign in.")


@app.command("create")
def accounts_create(
    username: Annotated[str, typer.Argument(help="What the person types to sign in.")],
    role: Annotated[
        str,
        typer.Option(
            help="consumer, agent, provider, merchant, brand, operations or integration "
            "(a system loading master data; its --party, if given, is the one shop it loads for)."
        ),
    ],
    party: Annotated[
        str | None,
        typer.Option(help="Who the account acts for: buyer account, provider, shop or brand id."),
    ] = None,
    name: Annotated[str, typer.Option(help="Shown on pages and in the audit trail.")] = "",
    password: Annotated[
        str | None,
        typer.Option(
            envvar="AFTERSALES_NEW_ACCOUNT_PASSWORD",
            help="Asked for when not given (so it stays out of the shell history).",
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account that signs in to the web application."""
    from aftersales.domain.lifecycle import Role
    from aftersales.services.accounts import create_account

    try:
        chosen = Role(role)
    except ValueError as exc:
        roles = ", ".join(r.value for r in Role if r is not Role.SYSTEM)
        console.print(f"[red]--role {role!r} is not a role; use one of {roles}[/red]")
        raise typer.Exit(2) from exc
    container = open_container(data_dir, database_url, None)
    secret = password or typer.prompt("password", hide_input=True, confirmation_prompt=True)
    account = create_account(
        container.services,
        username=username,
        password=secret,
        role=chosen,
        name=name,
        party=party,
    )
    console.print(f"account {account.username} ({account.role.value}) created as {account.id}")
    container.close()


@app.command("token")
def accounts_token(
    username: Annotated[str, typer.Argument(help="The account the system acts as.")],
    name: Annotated[str, typer.Option(help="Which system uses it, e.g. order-sync.")],
    expires_in: Annotated[
        str | None,
        typer.Option(help="How long it works, e.g. 30d or 12h; left out, until revoked."),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make an API token for a system; it is shown once (send it as Authorization: Bearer …)."""
    from aftersales.services.accounts import create_api_token

    lifetime = None if expires_in is None else duration("--expires-in", expires_in)
    container = open_container(data_dir, database_url, None)
    try:
        made = create_api_token(
            container.services, username=username, name=name, expires_in=lifetime
        )
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    until = f", expires {made.expires_at.isoformat()}" if made.expires_at else ""
    console.print(
        f"token {made.id} for {made.account.username} ({made.name}{until}); keep it secret:"
    )
    print(made.token)  # plain, so a script can capture it


@app.command("tokens")
def accounts_tokens(
    username: Annotated[
        str | None, typer.Argument(help="Whose tokens; left out, every account's.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """API tokens with their account, when they were made, expire and were revoked."""
    from aftersales.domain.lifecycle import Role
    from aftersales.services.accounts import find_account, list_tokens

    container = open_container(data_dir, database_url, None)
    try:
        account_id = "*"
        if username is not None:
            account = find_account(container.services, username)
            if account is None:
                console.print(f"[red]error:[/red] no account {username!r}")
                raise typer.Exit(2)
            account_id = account.id
        found = list_tokens(
            container.services, role=Role.SYSTEM, caller_id="", account_id=account_id
        )
    finally:
        container.close()
    table = Table("id", "account", "name", "created", "expires", "revoked")
    for t in found:
        table.add_row(
            t.id,
            t.account.username,
            t.name,
            t.created_at.isoformat(timespec="seconds"),
            t.expires_at.isoformat(timespec="seconds") if t.expires_at else "",
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "",
        )
    console.print(table)


@app.command("revoke-token")
def accounts_revoke_token(
    token_id: Annotated[str, typer.Argument(help="The token's id (tok-…), as listed by tokens.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API token: it is refused from the next request on."""
    from aftersales.services.accounts import find_token, revoke_api_token

    container = open_container(data_dir, database_url, None)
    try:
        known = find_token(container.services, token_id)
        revoked = known is not None and revoke_api_token(container.services, token_id)
    finally:
        container.close()
    if known is None:
        console.print(f"[red]error:[/red] no API token {token_id!r}; `accounts tokens` lists them")
        raise typer.Exit(2)
    if not revoked:
        console.print(f"token {token_id} was already revoked at {known.revoked_at}")
        return
    console.print(f"token {token_id} ({known.account.username}, {known.name}) revoked")


@app.command("list")
def accounts_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Every account with its role and the party it acts for."""
    from aftersales.services.accounts import list_accounts

    container = open_container(data_dir, database_url, None)
    table = Table("username", "role", "party", "name", "active")
    for a in list_accounts(container.services):
        table.add_row(a.username, a.role.value, a.party or "", a.name, "yes" if a.active else "no")
    console.print(table)
    container.close()
