"""The ``seisim`` command line.

Analysts drive the library from a terminal as much as from notebooks, so every subcommand prints
plain text (or JSON when asked) and every problem in their input is one line,
``seisim: error: <file>:<line>: <key>: <problem>``, with exit code 2 and no traceback.

Subcommands are registered in :data:`COMMANDS`: each entry is a function that adds one top-level
subcommand to the parser and sets ``func`` (called with the parsed arguments, returning the exit
code). To add ``run``, ``mc`` and so on, write an ``add_<name>_command`` function and list it there.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence

from sim import __version__
from sim.errors import InputError


# Output helpers ----------------------------------------------------------------------------------
def _width(text: str) -> int:
    """Terminal columns of a string: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table; pandas mis-aligns Chinese text, so this counts display width."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths)).rstrip()

    rule = line(["-" * w for w in widths])
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


# seisim plan ... ---------------------------------------------------------------------------------
def cmd_plan_list(args: argparse.Namespace) -> int:
    from sim.plans.loader import available_regions, display_path, read_plan_file, resolve_region

    rows, problems = [], []
    for region in available_regions():
        try:
            path = resolve_region(region)
            plan_file = read_plan_file(path)
        except InputError as exc:  # list the good files even when one is broken
            problems.append(str(exc))
            continue
        for version, meta in plan_file.versions.items():
            rows.append([region, version, "*" if version == plan_file.default else "",
                         plan_file.name_en, meta.title, display_path(path)])
    print(table(["region", "version", "default", "name", "title", "file"], rows))
    for problem in problems:
        _print_error(problem)
    return 2 if problems else 0


def cmd_plan_show(args: argparse.Namespace) -> int:
    import sim.plans
    from sim.plans.audit import num

    plan = sim.plans.load(args.region, args.version)

    def section(item) -> str:
        return item.source[plan.version]

    out = [f"{plan.region}: {plan.name} ({plan.name_en}), version {plan.version} "
           f"(versions: {', '.join(plan.versions)})",
           f"Title: {plan.title}", f"Document: {plan.document}", f"File: {plan.file}",
           "Sources below are sections of that document.", "",
           f"Industries ({len(plan.industries)})",
           table(["id", "name", "name_en", "sector", "group", "source"],
                 [[i.id, i.name, i.name_en, i.sector, i.group, section(i)]
                  for i in plan.industries])]
    if plan.parks:
        out += ["", f"Parks ({len(plan.parks)})",
                table(["id", "name", "name_en", "industries", "source"],
                      [[p.id, p.name, p.name_en, ", ".join(p.industries), section(p)]
                       for p in plan.parks])]
    if plan.funds:
        out += ["", f"Funds ({len(plan.funds)})",
                table(["id", "name", "name_en", "source"],
                      [[f.id, f.name, f.name_en, section(f)] for f in plan.funds])]
    out += ["", f"Figures ({len(plan.figures)})",
            table(["id", "indicator", "scope", "year", "value", "unit", "threshold", "qualifier",
                   "role", "kind", "source"],
                  [[f.id, f.indicator, f.scope, f.year, num(f.value, 4), f.unit,
                    None if f.threshold is None else num(f.threshold, 4), f.qualifier, f.role,
                    f.kind, section(f)] for f in plan.figures])]
    print("\n".join(out))
    return 0


def cmd_plan_audit(args: argparse.Namespace) -> int:
    import sim.plans

    report = sim.plans.audit(sim.plans.load(args.region, args.version))
    print(report.to_json(indent=2) if args.json else report.to_text())
    return 0


def add_plan_command(subparsers) -> None:
    plan = subparsers.add_parser("plan", help="list, show and audit regional plans",
                                 description="Regional plans: list them, show one, audit one.")
    sub = plan.add_subparsers(dest="plan_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", help="regions and their plan versions")
    listing.set_defaults(func=cmd_plan_list)

    def region_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("region", metavar="REGION",
                       help="region name (a seeds/<region>.yaml file) or path to a plan file")
        p.add_argument("--version", metavar="V", default=None,
                       help="plan version (default: the file's default version)")

    show = sub.add_parser("show", help="industries, parks, funds and figures of a plan")
    region_args(show)
    show.set_defaults(func=cmd_plan_show)

    audit = sub.add_parser("audit", help="check a plan's numbers against each other",
                           description="Sums vs totals, implied totals, required growth, "
                                       "differences between versions, definitional problems.")
    region_args(audit)
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    audit.set_defaults(func=cmd_plan_audit)


# seisim demo -------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """Placeholder demo: audit every available region's default plan version."""
    import sim.plans

    reports = [sim.plans.audit(sim.plans.load(r)).to_text() for r in sim.plans.available_regions()]
    print("\n\n".join(reports))
    return 0


def add_demo_command(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="run the built-in demonstration")
    demo.set_defaults(func=cmd_demo)


# Registry and entry point ------------------------------------------------------------------------
#: Top-level subcommands, in the order ``seisim --help`` lists them. Add new ones (run, mc, ...)
#: here.
COMMANDS: list[Callable] = [
    add_plan_command,
    add_demo_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seisim",
        description="Simulate and audit regional strategic-emerging-industry plans.")
    parser.add_argument("--version", action="version",
                        version=f"seisim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def _print_error(message: str) -> None:
    print("seisim: error: " + " ".join(str(message).split("\n")), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input or usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except InputError as exc:
        _print_error(str(exc))
        return 2
    except BrokenPipeError:  # output piped into head or less, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
