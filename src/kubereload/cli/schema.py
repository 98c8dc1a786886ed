"""``kubereload schema module:Class``: print the JSON Schema of the app's pydantic model.

Put it in a ConfigMap and point ``kubereload.io/schema`` at it, or commit it for editors: the
admission webhook then judges a config by the same model the app loads it with.
"""

from __future__ import annotations

import argparse
import json
import sys

from kubereload.admission.rules import import_model
from kubereload.cli.usage import fail, help_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of a pydantic model (module:Class)",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODULE:CLASS", help="e.g. myapp.settings:Settings")
    parser.add_argument("--indent", type=int, default=2, help="JSON indent (default 2)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if "" not in sys.path:
        sys.path.insert(0, "")  # as `python -m`: the app's modules from the current directory
    try:
        model = import_model(args.model)
    except ValueError as exc:
        return fail("schema", str(exc))
    make = getattr(model, "model_json_schema", None)
    if not callable(make):
        return fail("schema", f"{args.model} is not a pydantic model (no model_json_schema)")
    json.dump(make(), sys.stdout, indent=args.indent or None)
    sys.stdout.write("\n")
    return 0
