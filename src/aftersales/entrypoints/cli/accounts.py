"""The ``accounts`` group: people who sign in to the pages, and API tokens for systems."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aftersales.entrypoints.cli.common import DatabaseUrl, DataDir, console, open_container

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
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make an API token for a system; it is shown once (send it as Authorization: Bearer …)."""
    from aftersales.services.accounts import create_api_token

    container = open_container(data_dir, database_url, None)
    made = create_api_token(container.services, username=username, name=name)
    console.print(f"token {made.id} for {made.account.username} ({made.name}); keep it secret:")
    print(made.token)  # plain, so a script can capture it
    container.close()


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
