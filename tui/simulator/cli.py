"""``pixverse-tui simulate``: run the simulator in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("simulate", help="run a local DashScope-compatible service")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8470, help="0 picks a free port")
    p.add_argument("--speed", type=float, default=1.0, help="simulated clock runs N× faster")
    p.add_argument("--api-key", help="accept only this key (default: any sk-… key)")
    p.add_argument("--failure-rate", type=float, default=0.05, help="share of tasks that FAIL")
    p.add_argument("--early-failure-rate", type=float, default=0.0,
                   help="share of tasks FAILED by moderation while still PENDING")
    p.add_argument("--seed", type=int, help="random seed, for repeatable runs")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of 500 answers")
    p.add_argument("--overload-rate", type=float, default=0.0, help="share of 503 answers")
    p.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections")
    p.add_argument("--malformed-rate", type=float, default=0.0, help="share of broken JSON")
    p.add_argument("--html-rate", type=float, default=0.0, help="share of HTML error pages")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    p.add_argument("--truncate-rate", type=float, default=0.0, help="share of cut downloads")
    p.add_argument("--stall-rate", type=float, default=0.0, help="share of stalled downloads")
    p.add_argument("--fault", action="append", default=[], metavar="JSON",
                   help='one-shot fault, e.g. \'{"on": "create", "kind": "drop_after"}\'')
    p.set_defaults(run_sync=run)


def run(args: argparse.Namespace) -> int:
    from tui.simulator.faults import Fault, FaultRates
    from tui.simulator.server import Simulator, SimulatorConfig

    rates = FaultRates(error500=args.error_rate, error503=args.overload_rate,
                       drop=args.drop_rate, malformed=args.malformed_rate, html=args.html_rate,
                       latency=args.latency, truncate=args.truncate_rate, stall=args.stall_rate)
    config = SimulatorConfig(host=args.host, port=args.port, speed=args.speed,
                             api_key=args.api_key, failure_rate=args.failure_rate,
                             early_failure_rate=args.early_failure_rate,
                             seed=args.seed, rates=rates)
    import json  # (here: building another command's parser loads none of this)

    try:
        sim = Simulator(config)
        for text in args.fault:
            sim.faults.push(Fault.from_dict(json.loads(text)))
    except OSError as exc:
        print(f"pixverse-tui: cannot listen on {args.host}:{args.port} ({exc.strerror}); "
              "pick another --port (0 = any free port)", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as exc:
        print(f"pixverse-tui: bad --fault: {exc}", file=sys.stderr)
        return 2
    print(f"DashScope simulator listening on {sim.base_url} (speed ×{args.speed:g})",
          flush=True)
    print(f"  export DASHSCOPE_HTTP_BASE_URL={sim.base_url}", flush=True)
    print("  export DASHSCOPE_API_KEY=" + ((args.api_key and "<your --api-key>") or "sk-demo"),
          flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sim.serve_forever()
    return 0
