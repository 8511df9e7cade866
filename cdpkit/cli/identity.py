"""`cdpkit identity explain`: which customer an identifier belongs to, and why."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cdpkit.cli.common import ProjectDirOption, TargetOption, new_app, out, project_from

identity_app = new_app("Identity resolution: inspect how identifiers were stitched into customers.")


def register(app: typer.Typer) -> None:
    app.add_typer(identity_app, name="identity")


@identity_app.command("explain")
def explain_command(
    ctx: typer.Context,
    identifier: Annotated[
        str, typer.Argument(help="An identifier as written or normalized: email, phone, id.")
    ],
    identifier_type: Annotated[
        str | None,
        typer.Option("--type", help="Identifier type (email, phone, user_id, ...) when ambiguous."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Show the customer of an identifier, its identifiers, the links and the blocked links."""
    from cdpkit.identity import explain
    from cdpkit.warehouse import connect

    if fmt not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--format")
    project = project_from(ctx, project_dir, target)
    with connect(project, read_only=True) as wh:
        result = explain(wh, identifier, identifier_type)
    if fmt == "json":
        out.print_json(json.dumps(result.to_dict()))
        return
    _render(result.to_dict())


def _render(data: dict[str, Any]) -> None:
    status = data["status"]
    if status != "resolved":
        what = (
            f"{data['identifier_type']} {data['identifier_value']}"
            if data["identifier_type"]
            else data["query"]
        )
        out.print(f"{what}: {status}" + (f" ({data['reason']})" if data["reason"] else ""))
        if status == "unknown":
            return
    else:
        customer = data["customer"] or {}
        out.print(
            f"{data['identifier_type']} {data['identifier_value']} belongs to customer "
            f"{customer.get('customer_id')}"
        )
        shown = ("email", "phone", "first_name", "last_name", "lifecycle_stage", "is_anonymous")
        summary = ", ".join(f"{k}={customer.get(k)}" for k in shown if customer.get(k) is not None)
        out.print(f"  {summary}")
        table = Table(
            "type", "value", "first seen", "last seen", "rows", "sources", title="Identifiers"
        )
        for r in data["identifiers"]:
            table.add_row(
                r["identifier_type"],
                r["identifier_value"],
                str(r["first_seen_at"]),
                str(r["last_seen_at"]),
                str(r["occurrences"]),
                r["sources"] or "",
            )
        out.print(table)
        if data["links"]:
            links = Table(
                "identifier",
                "linked to",
                "rows",
                "sources",
                title=_title("Links", data["links"], data["links_total"]),
            )
            for r in data["links"]:
                links.add_row(
                    f"{r['identifier_type']} {r['identifier_value']}",
                    f"{r['linked_identifier_type']} {r['linked_identifier_value']}",
                    str(r["occurrences"]),
                    r["sources"] or "",
                )
            out.print(links)
        for r in data["aliases"]:
            out.print(f"  retired id {r['retired_customer_id']} was merged into this customer")
    if data["blocked"]:
        blocked = Table(
            "reason",
            "identifier",
            "linked",
            "detail",
            title=_title("Blocked", data["blocked"], data["blocked_total"]),
        )
        for r in data["blocked"]:
            linked = " ".join(
                str(v) for v in (r["linked_identifier_type"], r["linked_identifier_value"]) if v
            )
            blocked.add_row(
                r["reason"],
                f"{r['identifier_type']} {r['identifier_value']}",
                linked,
                r["detail"] or "",
            )
        out.print(blocked)
    else:
        out.print("No blocked links touch it.")


def _title(name: str, shown: list[Any], total: int) -> str:
    return f"{name} ({len(shown)} of {total})" if total > len(shown) else f"{name} ({total})"
