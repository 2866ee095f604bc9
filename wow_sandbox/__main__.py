"""``python -m wow_sandbox --port 8765 [--host 127.0.0.1] [--demo] [--generate years=5,documents=2000]
[--latency-ms 50] [--bandwidth 1000000]``

Prints the URL; with ``--demo`` (and/or ``--generate``) it creates the folder(s), grants them to the demo
e-mail and prints an exchange token, the e-mail and the company code(s) to connect with.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from .behaviour import STRICT, WOW_LIKE
from .chunks import CHUNK_SIZE
from .network import NO_DELAY
from .recipes import GENERATOR_PARAMS, FolderRecipe
from .server import SandboxServer
from .store import Store

DEFAULT_EMAIL = "demo@sandbox.local"
DEFAULT_GENERATED_CODE = "BIG_BV"


def parse_generate(spec: str) -> FolderRecipe:
    """``years=5,accounts=2000,relations=4000,documents=120000,seed=0[,code=BIG_BV][,name=...]``"""
    params: dict[str, Any] = {}
    code, name = DEFAULT_GENERATED_CODE, ""
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--generate: expected key=value, got {part!r}")
        if key == "code":
            code = value
        elif key == "name":
            name = value
        elif key in GENERATOR_PARAMS:
            try:
                params[key] = int(value)
            except ValueError as exc:
                raise argparse.ArgumentTypeError(f"--generate: {key} must be an integer") from exc
        else:
            raise argparse.ArgumentTypeError(
                f"--generate: unknown key {key!r} (code, name, {', '.join(GENERATOR_PARAMS)})"
            )
    return FolderRecipe(code, name, "generated", params)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wow_sandbox", description="Local WinbooksOnWeb sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--demo", action="store_true", help="create the demo company DEMO_BV")
    parser.add_argument(
        "--generate", type=parse_generate, metavar="KEY=VALUE,...", help="create a generated folder"
    )
    parser.add_argument(
        "--email", default=DEFAULT_EMAIL, help="the e-mail granted the folders (default %(default)s)"
    )
    parser.add_argument(
        "--untrusted", action="store_true", help="print a 15-minute exchange token, not a 24-hour one"
    )
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    parser.add_argument("--no-split", action="store_true", help="never split a header across chunks")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="the strict sandbox, not the WoW-like one (see README.md, WoW-like and strict)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="wait this long before answering each WoW request"
    )
    parser.add_argument(
        "--bandwidth",
        type=float,
        metavar="BYTES_PER_SECOND",
        help="the answers share a link of this capacity",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        network = NO_DELAY.changed(
            {"latency_ms": args.latency_ms, "bandwidth_bytes_per_second": args.bandwidth}
        )
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")

    recipes = []
    if args.demo:
        recipes.append(FolderRecipe("DEMO_BV", "", "demo"))
    if args.generate:
        recipes.append(args.generate)
    if recipes:
        print("Building " + ", ".join(r.code for r in recipes) + " ...", flush=True)
    store = Store(
        recipes,
        {args.email: [r.code for r in recipes]} if recipes else {},
        chunk_size=args.chunk_size,
        split=not args.no_split,
        behaviour=STRICT if args.strict else WOW_LIKE,
        network=network,
    )
    server = SandboxServer(store, args.host, args.port)
    print(f"WinbooksOnWeb sandbox listening on {server.url}", flush=True)
    print(f"Control API (not part of WoW): {server.url}/_sandbox/", flush=True)
    if recipes:
        token, _ = store.issue_exchange_token(args.email, trusted=not args.untrusted)
        print(f"  API location:   {server.url}")
        print(f"  E-mail:         {args.email}")
        lifetime = "15 minutes" if args.untrusted else "24 hours"
        uses = "single use" if args.strict else "reusable until then"
        print(f"  Exchange token: {token}  ({lifetime}, {uses})")
        for recipe in recipes:
            folder = store.folder(recipe.code)
            print(
                f"  Company code:   {folder.code}  ({folder.name}, {folder.count('GLTransHeader')} documents)"
            )
        sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
