"""CLI commands for desk users: `roundup users add | list | disable | passwd`.

Passwords are prompted twice (hidden) on a terminal and read as one line from
stdin otherwise, so scripts can create users; they are never echoed or logged.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bot.cli.core import ConfigOpt, JsonOpt, console, fmt_time, open_ctx, print_json
from bot.errors import UsageError
from bot.types import Role

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The user's login name.")]
users_app = typer.Typer(help="Desk users: add, list, disable, passwd.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def read_password() -> str:
    """Prompted twice on a terminal; one line of stdin otherwise."""
    if sys.stdin.isatty():
        first = typer.prompt("Password", hide_input=True)
        second = typer.prompt("Repeat password", hide_input=True)
        if first != second:
            raise UsageError("the two passwords differ; nothing was changed")
        return str(first)
    line = sys.stdin.readline(2048)
    password = line.rstrip("\r\n")
    if not password:
        raise UsageError("no password on stdin: give it as one line")
    return password


@users_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Login name (lower case).")],
    role: Annotated[Role, typer.Option("--role", help="editor or ops.")],
    email: Annotated[
        str | None, typer.Option("--email", help="For tests and draft notifications.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a desk user; the password is prompted (or read from stdin)."""
    from bot.accounts import add_user, valid_name

    valid_name(name)
    password = read_password()
    with open_ctx(config) as ctx:
        user = add_user(ctx.store, name, role, password, ctx.clock.now(), email=email)
    console().print(f"added {user.name} ({user.role.value})")


@users_app.command("list")
def list_cmd(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Every desk user, with role, email and whether disabled."""
    from bot.accounts import list_users

    with open_ctx(config) as ctx:
        users = list_users(ctx.store)
    if as_json:
        print_json(
            [
                {
                    "name": u.name,
                    "role": u.role.value,
                    "email": u.email,
                    "disabled": u.disabled,
                    "created_at": u.created_at,
                }
                for u in users
            ]
        )
        return
    from rich.table import Table

    table = Table(title="Desk users")
    for column in ("name", "role", "email", "disabled", "created"):
        table.add_column(column)
    for u in users:
        table.add_row(
            u.name, u.role.value, u.email or "", "yes" if u.disabled else "", fmt_time(u.created_at)
        )
    console().print(table)


@users_app.command("disable")
def disable_cmd(name: NameArg, config: ConfigOpt = None) -> None:
    """Disable a user; their sessions end at once."""
    from bot.accounts import disable_user

    with open_ctx(config) as ctx:
        disable_user(ctx.store, name, ctx.clock.now())
    console().print(f"disabled {name}")


@users_app.command("passwd")
def passwd_cmd(name: NameArg, config: ConfigOpt = None) -> None:
    """Set a new password; the user's sessions end."""
    from bot.accounts import set_password

    password = read_password()
    with open_ctx(config) as ctx:
        set_password(ctx.store, name, password, ctx.clock.now())
    console().print(f"password changed for {name}")
