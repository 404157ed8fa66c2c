"""The ``pmesh-sim`` command line: run, validate, bench, demo, fuzz, sweep.

Each subcommand is a thin function over the library; errors a user can fix exit with status 2
and one readable line, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import PmeshError, ScenarioError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmesh-sim",
        description="Simulate NATS and JetStream, and check the simulation against a real nats-server.",
    )
    parser.add_argument("--version", action="version", version=f"pmesh-sim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run one scenario file on one backend")
    run.add_argument("file")
    run.add_argument("--backend", choices=["sim", "real"], default="sim",
                     help="sim: the simulation, in virtual time (default); real: a nats-server "
                          "started for this run")
    run.add_argument("--servers", type=int, default=None, help="override the scenario's server count")
    run.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                     help="write the result document to OUT ('-' for stdout, and nothing else)")
    run.add_argument("--report", default=None, metavar="DIR",
                     help="write DIR/report.html (one page to open in a browser) beside the "
                          "result, the trace and the narrative")
    run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")

    validate = commands.add_parser("validate", help="run scenarios on both backends and compare")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--servers", type=int, default=None)

    bench = commands.add_parser("bench", help="measure throughput against a bare SimPy loop")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument("--quick", action="store_true", help="smaller workloads (for tests)")
    bench.add_argument("--plot", metavar="PNG", help="also draw cost against work into PNG")

    fuzz = commands.add_parser("fuzz", help="random scenarios on both backends; disagreements "
                                            "shrunk and written to scenarios/found/")
    fuzz.add_argument("--examples", type=int, default=100, metavar="N")
    fuzz.add_argument("--seed", type=int, default=0, metavar="S")
    fuzz.add_argument("--workers", type=int, default=2, metavar="W",
                      help="worker processes, each with its own nats-server (default 2)")
    fuzz.add_argument("--out", default="scenarios/found", metavar="DIR")

    sweep = commands.add_parser("sweep", help="run a scenario over a grid of parameters x "
                                "seeds and check every run")
    sweep.add_argument("file")
    sweep.add_argument("--param", action="append", metavar="KEY=V1,V2",
                       help="a grid key (network.loss, streams.NAME.FIELD, "
                            "consumers.NAME.FIELD, steps.INDEX.KEY...) and its values; repeat "
                            "for more keys")
    sweep.add_argument("--seeds", type=int, default=10, metavar="N",
                       help="run each point with seeds 0..N-1 (default 10)")
    sweep.add_argument("--workers", type=int, default=None, metavar="N",
                       help="processes (default: all cores; 1: this process)")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on a Dask cluster (tcp://host:8786); needs pmesh-sim[dask]")
    sweep.add_argument("--out", default=None, metavar="CSV", help="write every run's row")
    sweep.add_argument("--backend", choices=["sim", "real"], default="sim",
                       help="sim (default) or real: each run starts its own nats-server")

    demo = commands.add_parser("demo", help="run the demo scenario and write its report")
    demo.add_argument("--report", default="reports/demo", metavar="DIR",
                      help="where to write report.html and its files (default: reports/demo)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmesh-sim``; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    try:
        return _COMMANDS[args.command](args)
    except ScenarioError as err:
        print(f"pmesh-sim: {err}", file=sys.stderr)
        return 2
    except PmeshError as err:
        print(f"pmesh-sim: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pmesh-sim: interrupted", file=sys.stderr)
        return 130


def _bench(args) -> int:
    from .bench import format_benchmarks, run_benchmarks

    figures = run_benchmarks(quick=args.quick, progress=sys.stderr, scaling=True,
                             memory=True)
    if args.plot:
        from .bench import plot_scaling

        plot_scaling(figures).figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    print(json.dumps(figures, indent=2) if args.json else format_benchmarks(figures))
    return 0


def _run(args) -> int:
    from .runners import run_command

    return run_command(args)


def _validate(args) -> int:
    from .runners import validate_command

    return validate_command(args)


def _sweep(args) -> int:
    from .experiments.sweep import sweep_command

    return sweep_command(args)


def _demo(args) -> int:
    from .demo import demo_command

    return demo_command(args)


def _fuzz(args) -> int:
    from .fuzz.command import fuzz_command

    return fuzz_command(args)


_COMMANDS = {"bench": _bench, "run": _run, "validate": _validate, "demo": _demo, "fuzz": _fuzz,
             "sweep": _sweep}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
