"""``kubereload check -f manifests/ --rules rules.yaml``: the admission verdicts, offline.

Judges every ConfigMap and Secret in the manifests (files, directories, or ``-`` for the output
of ``kustomize build`` / ``helm template``) with the same engine and rules as
``kubereload admission``, and prints each problem as ``file:line:column``. Exit status: 0 all
good, 1 a problem was found, 2 the rules or manifests could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kubereload.admission.check import check, load
from kubereload.admission.manifests import ManifestError
from kubereload.admission.rules import Rules, RulesError, load_rules
from kubereload.cli.env import apply_env
from kubereload.cli.usage import fail, help_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="judge the ConfigMaps/Secrets in manifests as the admission webhook would",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="PATH",
        help="a manifest file, a directory of them, or - for standard input (repeatable)",
    )
    parser.add_argument("--rules", type=Path, metavar="FILE", help="the rules file")
    parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        metavar="NS",
        help="namespace of objects that name none (default: default)",
    )
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="default text"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print problems only, not what passed"
    )
    apply_env(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if "" not in sys.path:
        sys.path.insert(0, "")  # as `python -m`: a rule's model:, from the current directory
    try:
        rules = load_rules(args.rules) if args.rules else Rules()
        manifests = load(args.filename)
    except (RulesError, ManifestError) as exc:
        return fail("check", str(exc))
    report = check(manifests, rules, args.namespace)
    if args.output == "json":
        body = {
            "ok": report.ok,
            "objects": report.objects,
            "findings": [f.json() for f in report.findings if not (args.quiet and f.ok)],
            "warnings": list(report.warnings),
        }
        json.dump(body, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for finding in report.findings:
            if not (args.quiet and finding.ok):
                print(finding.text())
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        judged = {(f.file, f.kind, f.namespace, f.name) for f in report.findings}
        bad = sum(1 for f in report.findings if not f.ok)
        print(
            f"{len(judged)} of {report.objects} ConfigMap/Secret object(s) checked, "
            f"{bad} problem(s)",
            file=sys.stderr,
        )
    return 0 if report.ok else 1
