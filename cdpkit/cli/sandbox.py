"""`cdpkit sandbox`: run the fake destination APIs on loopback in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

from cdpkit.cli.common import err, out
from cdpkit.errors import CdpkitError

DEFAULT_PORT = 8787


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox_command)


def sandbox_command(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port on 127.0.0.1 (0: any free).")
    ] = DEFAULT_PORT,
) -> None:
    """Start local fakes of the destination APIs (for the demo, tests and trying configs).

    Point a destination's base_url at the printed URL. Each fake also has a control API under
    /_sandbox/<fake>/ (records, batches, stats, faults, reset). Stop with Ctrl-C.
    """
    from cdpkit.sandbox.credentials import made_up
    from cdpkit.sandbox.server import Sandbox

    try:
        sandbox = Sandbox(port=port)
    except OSError as exc:
        raise CdpkitError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    out.print(f"cdpkit sandbox on {sandbox.base_url}", markup=False)
    for name, fake in sandbox.fakes.items():
        out.print(f"  {name:<12} {sandbox.url(name)}   {fake.description}", markup=False)
    out.print(
        f"  control      {sandbox.base_url}/_sandbox/<fake>/(records|batches|stats|faults|reset)",
        markup=False,
    )
    invented = made_up()
    if invented:
        out.print("Credentials the fakes accept, made up for this run (export your own to choose):")
        for name, value in invented.items():
            out.print(f"  export {name}={value}", markup=False)
    err.print("Press Ctrl-C to stop.")
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
