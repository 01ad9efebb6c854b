"""`bms log ...`: record, decode, plot, replay and re-simulate CAN logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bms.cli_common import add_config_arguments, load_or_explain

LOG_FORMATS = ("the format follows the extension: .log (candump), .asc, .blf, .csv, .trc, "
               ".mf4 (ASAM MDF 4, needs asammdf: pip install -e '.[logs]')")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "log", help="record, decode, plot, replay and re-simulate CAN logs",
        description="Tools for CAN logs in any python-can format (" + LOG_FORMATS + ").",
        epilog="examples:\n"
               "  bms log decode pack.log --module 3 --signal 'CellVoltage*'\n"
               "  bms log convert pack.log -o pack.mf4        # the frames as ASAM MDF 4\n"
               "  bms log convert pack.log -o pack.parquet    # decoded: a table per message",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    tools = parser.add_subparsers(dest="tool", metavar="TOOL", required=True)

    record = tools.add_parser(
        "record", help="record one or more buses to a log file",
        description="Record what the buses carry, with live counts, until Ctrl-C or "
                    "--duration. Frames are labelled with their bus (pack, vehicle, sim as "
                    "the channel in .log files; 1, 2, 3 in formats with channel numbers). "
                    + LOG_FORMATS + ".")
    record.add_argument("file", type=Path)
    record.add_argument("--bus", action="append", default=[], metavar="BUS",
                        help="pack, vehicle, sim (from the configuration) or "
                             "INTERFACE:CHANNEL (socketcan:can0); repeatable; default pack")
    record.add_argument("--bus-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="extra can.Bus argument for INTERFACE:CHANNEL buses "
                             "(port=43113, hop_limit=0, bitrate=500000)")
    record.add_argument("--max-bytes", type=int, default=0, metavar="N",
                        help="start a new numbered file when this one reaches N bytes")
    record.add_argument("--rotate-seconds", type=float, default=0.0, metavar="S",
                        help="start a new numbered file every S seconds")
    record.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    add_config_arguments(record)
    record.set_defaults(run=run_record)

    decode = tools.add_parser(
        "decode", help="decode every frame with the project's DBC files",
        description="Decode every frame with all project DBC files (and --dbc extras), with "
                    "the E2E check result of protected frames. Unknown and malformed frames "
                    "are shown raw with the reason.")
    decode.add_argument("file", type=Path)
    decode.add_argument("--dbc", action="append", type=Path, default=[],
                        help="an extra DBC file (repeatable)")
    _add_filters(decode)
    decode.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    decode.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    decode.set_defaults(run=run_decode)

    plot = tools.add_parser(
        "plot", help="plot signals over time, one panel per pattern",
        description="Plot signals over time. Each --signal pattern (a glob on SIGNAL or "
                    "MESSAGE.SIGNAL, e.g. 'CellVoltage*' with --module 3, 'IVT_Result_I', "
                    "'MasterState') makes a panel; panels are stacked.")
    plot.add_argument("file", type=Path)
    plot.add_argument("--signal", action="append", required=True, metavar="PATTERN")
    plot.add_argument("-o", "--output", type=Path, required=True, help="PNG, SVG or PDF")
    plot.add_argument("--dbc", action="append", type=Path, default=[])
    _add_filters(plot, signals=False)
    plot.set_defaults(run=run_plot)

    replay = tools.add_parser(
        "replay", help="send a log onto a bus with its original timing",
        description="Send the log's frames onto a bus with their original timing "
                    "(python-can MessageSync), with a progress bar. Error frames are not sent.")
    replay.add_argument("file", type=Path)
    replay.add_argument("--onto", required=True, metavar="BUS",
                        help="pack, vehicle, sim or INTERFACE:CHANNEL")
    replay.add_argument("--bus-arg", action="append", default=[], metavar="KEY=VALUE")
    replay.add_argument("--speed", type=float, default=1.0, help="2: twice as fast")
    replay.add_argument("--loop", action="store_true", help="start again at the end")
    replay.add_argument("--id", action="append", default=[], metavar="ID",
                        help="only these ids (0x620 or 0x600-0x61F; repeatable)")
    add_config_arguments(replay)
    replay.set_defaults(run=run_replay)

    convert = tools.add_parser(
        "convert", help="convert a log to another format, or its decoded signals to Parquet",
        description="Convert a log's frames to another log format (by the output's "
                    "extension), or, with an output ending in .parquet, decode every frame "
                    "(as `bms log decode` does, E2E results included) into a directory of "
                    "Parquet files, one table per message with a typed column per signal "
                    "(docs/logs.md; needs pyarrow: pip install -e '.[logs]'). "
                    + LOG_FORMATS + ".")
    convert.add_argument("file", type=Path)
    convert.add_argument("-o", "--output", type=Path, required=True,
                         help="OUT.mf4, OUT.blf, ... or OUT.parquet (a directory)")
    convert.add_argument("--dbc", action="append", type=Path, default=[],
                         help="an extra DBC file (repeatable; Parquet only)")
    convert.set_defaults(run=run_convert)

    resim = tools.add_parser(
        "resim", help="feed a log into the master's core and show what it decides",
        description="Feed the log's slave, sensor, contactor-box and VCU frames into the "
                    "master's pure core on the log's own time and print its decisions "
                    "(state changes, diagnosis events, contactor and balancing commands). "
                    "The configuration (--config, --set) is the master's. Record both the "
                    "pack and the vehicle bus. --compare diffs the contactor and state "
                    "decisions against the master frames in the log: exit 1 at a divergence.")
    resim.add_argument("file", type=Path)
    resim.add_argument("--compare", action="store_true")
    resim.add_argument("--tolerance", type=float, default=0.3, metavar="S",
                       help="--compare: how far apart in time two equal decisions may be "
                            "(default 0.3 s: periodic frames show a decision late)")
    resim.add_argument("--compare-from", type=float, default=0.0, metavar="S",
                       help="--compare: ignore decisions before S (a log that starts with "
                            "the master already running)")
    add_config_arguments(resim)
    resim.set_defaults(run=run_resim)


def _add_filters(parser: argparse.ArgumentParser, signals: bool = True) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument("--id", action="append", default=[], metavar="ID",
                       help="only these ids: 0x620, 1568 or 0x600-0x61F (repeatable)")
    group.add_argument("--module", action="append", type=int, default=[], metavar="M",
                       help="only frames of module M (repeatable)")
    if signals:
        group.add_argument("--signal", action="append", default=[], metavar="PATTERN",
                           help="only signals matching this glob (SIGNAL or MESSAGE.SIGNAL)")
    group.add_argument("--start", type=float, metavar="S", help="from S seconds into the log")
    group.add_argument("--end", type=float, metavar="S", help="until S seconds into the log")


def _filter(args: argparse.Namespace) -> Any:
    from replay.decoder import RowFilter, parse_ids

    return RowFilter(ids=parse_ids(args.id), modules=set(args.module),
                     signal_patterns=list(getattr(args, "signal", None) or []),
                     start_s=args.start, end_s=args.end)


def _fail(message: str) -> int:
    print(f"bms log: {message}", file=sys.stderr)
    return 2


def run_record(args: argparse.Namespace) -> int:
    import asyncio

    from bms.errors import BmsError
    from replay.buses import parse_bus
    from replay.record import record

    settings = load_or_explain(args)
    if settings is None:
        return 2
    try:
        buses = [parse_bus(b, settings, args.bus_arg) for b in args.bus or ["pack"]]
        stats = asyncio.run(record(buses, args.file, args.max_bytes, args.rotate_seconds,
                                   args.duration))
    except BmsError as exc:
        return _fail(str(exc))
    print(f"recorded {stats.frames} frames ({stats.error_frames} error frames) to "
          f"{', '.join(str(f) for f in stats.files)}")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from bms.errors import BmsError
    from dbc.errors import DbcError
    from replay.decoder import LogDecoder
    from replay.formats import WRITERS
    from replay.logfile import read_log

    try:
        row_filter = _filter(args)
        decoder = LogDecoder(args.dbc)
        out = args.output.open("w") if args.output else sys.stdout
        try:
            WRITERS[args.format](decoder.rows(read_log(args.file), row_filter), out)
        finally:
            if args.output:
                out.close()
    except (BmsError, DbcError, ValueError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        return 0
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from bms.errors import BmsError
    from dbc.errors import DbcError
    from replay.logfile import convert_log, read_log

    try:
        if args.output.suffix.lower() == ".parquet":
            from replay.decoder import LogDecoder, RowFilter
            from replay.parquet import write_parquet

            decoder = LogDecoder(args.dbc)

            def progress(frames: int) -> None:
                print(f"\r  {frames:,} frames", end="", file=sys.stderr, flush=True)
            stats = write_parquet(decoder.rows(read_log(args.file), RowFilter()), args.output,
                                  decoder, progress)
            print("\r", end="", file=sys.stderr)
            print(f"{stats.frames:,} frames into {len(stats.tables)} tables in {args.output} "
                  f"({stats.undecoded:,} undecoded, in _undecoded.parquet)")
            return 0
        frames = convert_log(args.file, args.output)
    except (BmsError, DbcError, ValueError) as exc:
        return _fail(str(exc))
    print(f"{frames:,} frames to {args.output}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from bms.errors import BmsError
    from dbc.errors import DbcError
    from replay.decoder import LogDecoder
    from replay.logfile import read_log
    from replay.plot import collect, plot

    try:
        panels = collect(read_log(args.file), args.signal, LogDecoder(args.dbc), _filter(args))
        count = plot(panels, args.signal, args.output, args.file.name)
    except (BmsError, DbcError, ValueError) as exc:
        return _fail(str(exc))
    print(f"{count} series in {len(panels)} panels: {args.output}")
    return 0 if count else 1


def run_replay(args: argparse.Namespace) -> int:
    from bms.errors import BmsError
    from replay.buses import parse_bus
    from replay.decoder import parse_ids
    from replay.replayer import replay

    settings = load_or_explain(args)
    if settings is None:
        return 2
    try:
        bus = parse_bus(args.onto, settings, args.bus_arg)
        stats = replay(args.file, bus.kwargs, args.speed, args.loop, parse_ids(args.id),
                       show_progress=sys.stderr.isatty())
    except (BmsError, ValueError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    print(f"sent {stats.sent} frames in {stats.passes} pass(es), {stats.failed} failed")
    return 0 if not stats.failed else 1


def _ranges(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers) if len(numbers) < 6 else \
        f"{numbers[0]}..{numbers[-1]}"


def run_resim(args: argparse.Namespace) -> int:
    from bms.errors import BmsError
    from replay.logfile import read_log
    from replay.resim import compare, resimulate

    settings = load_or_explain(args)
    if settings is None:
        return 2
    try:
        result = resimulate(read_log(args.file), settings)
    except BmsError as exc:
        return _fail(str(exc))
    for decision in result.timeline:
        print(decision.line())
    print(f"# {result.frames} frames re-simulated, {len(result.timeline)} decisions")
    if result.unheard_modules:
        print(f"# warning: the configuration has modules the log never carries "
              f"({_ranges(result.unheard_modules)}): is --config the pack's?")
    if not args.compare:
        return 0
    if not result.recorded:
        print("# --compare: the log holds no frame of the master to compare with")
        return 1
    divergence, matched = compare(result.recorded, result.on_bus, args.tolerance,
                                  args.compare_from)
    if divergence is None:
        print(f"# --compare: no divergence in {matched} state and contactor decisions")
        return 0
    print(f"# --compare: {divergence.describe()}")
    return 1
