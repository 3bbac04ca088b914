"""The `ticketflow` command.

Each subcommand is one function below, registered with ``@command(...)``: its name is the
subcommand's, its docstring the help, its arguments those listed in the decorator. It
returns the exit code. Heavy imports (boto3, moto, the handlers) stay inside the commands
that need them, so `ticketflow token` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from infra.local.gateway import DEMO_API_KEY

Command = Callable[[argparse.Namespace], int]
Argument = tuple[tuple[str, ...], dict[str, Any]]  # add_argument's positional and keyword arguments
_COMMANDS: list[tuple[Command, tuple[Argument, ...]]] = []


def arg(*names: str, **options: Any) -> Argument:
    return names, options


def command(*arguments: Argument) -> Callable[[Command], Command]:
    def register(run: Command) -> Command:
        _COMMANDS.append((run, arguments))
        return run

    return register


@command(
    arg("--port", type=int, default=3000, help="port of the HTTP API (0: any free port; default %(default)s)"),
    arg("--host", default="127.0.0.1", help="address to listen on (default %(default)s)"),
    arg("--api-key", default=DEMO_API_KEY, help="the channel API key accepted in x-api-key (default %(default)s)"),
    arg("--demo", action="store_true", help="replay realistic days of tickets first (see `ticketflow demo`)"),
    arg("--demo-days", type=int, default=1, help="days the demo replays, up to now (default %(default)s)"),
    arg("--demo-tickets", type=int, default=60, help="tickets per day in the demo (default %(default)s)"),
)
def dev(args: argparse.Namespace) -> int:
    """Run the whole stack on this machine until Ctrl-C.

    The HTTP API of the topology, queues pumped into their consumers, schedules ticking,
    against AWS emulated in this process (moto): no account, no Docker. State lives in
    memory and is gone when it stops. Local-only routes: GET /dev/outbox (email, SMS and
    events sent), POST /dev/schedules/{name} (fire a schedule now), POST /dev/settle (wait
    until the queues are empty) and POST /dev/clock (move the stack's clock, for the demo).

    --demo replays a day of tickets through the stack before handing it over (surveys then
    go out without the 5-minute delay), so that /dashboard has something to show.

    A schedule ticks at its topology rate unless TICKETFLOW_SCHEDULE_<NAME>_SECONDS says
    otherwise. Tokens are signed with $TICKETFLOW_DEV_TOKEN_SECRET (or the dev default).
    """
    from infra.local import tokens
    from infra.local.runner import LocalStack

    console = logging.StreamHandler()  # one line per request, and handler failures, on stderr
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    local_log = logging.getLogger("infra.local")
    local_log.addHandler(console)
    local_log.setLevel(logging.INFO)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    if args.demo:  # the replay answers surveys as it goes: send them as soon as they are due
        os.environ.setdefault("TICKETFLOW_SURVEY_DELAY_SECONDS", "0")
    stack = LocalStack(host=args.host, port=args.port, api_key=args.api_key)
    try:
        base_url = stack.start()
    except OSError as error:
        print(f"ticketflow dev: {error} ({args.host}:{args.port})", file=sys.stderr)
        return 1
    print(f"ticketflow dev: API on {base_url}  (started in {stack.startup_s:.1f} s)")
    print(f"  state is in memory only, gone when this stops; AWS emulated at {stack.emulator.endpoint}")
    print(f"  channel API key   x-api-key: {args.api_key}")
    print("  people            Authorization: Bearer <token>, valid 12 h")
    for person in stack.people:
        token = tokens.issue(person.id, person.role.value)
        print(f"    {person.id:<9} {person.role.value:<10} {','.join(person.teams) or '-':<20} {token}")
    print(f"  outbox            GET {base_url}/dev/outbox")
    for name, function in stack.schedules.items():
        print(f"  schedule {name:<8} POST {base_url}/dev/schedules/{name}  (runs {function.name})")
    print(f"  dashboard         {base_url}/dashboard#token={tokens.issue('sup-1', 'supervisor')}")
    if args.demo:
        from infra.local.demo import Replay, quietly

        with quietly(local_log):  # the progress line, not a log line per request
            Replay(base_url, api_key=args.api_key, days=args.demo_days, tickets_per_day=args.demo_tickets).run()
    print("Ctrl-C stops.", flush=True)
    stopping.wait()
    stack.stop()
    print("ticketflow dev: stopped", flush=True)
    return 0


@command(
    arg("--url", default="http://127.0.0.1:3000", help="base URL of a running `ticketflow dev` (default %(default)s)"),
    arg("--api-key", default=DEMO_API_KEY, help="its channel API key (default %(default)s)"),
    arg("--days", type=int, default=1, help="days to replay, up to now (default %(default)s)"),
    arg("--tickets", type=int, default=60, help="tickets per day (default %(default)s)"),
    arg("--seed", type=int, default=7, help="random seed: the same seed replays the same days (default %(default)s)"),
)
def demo(args: argparse.Namespace) -> int:
    """Replay realistic days of tickets through a running `ticketflow dev` over HTTP.

    Channels post tickets in Chinese and English; agents accept, reply, ask the customer,
    transfer, resolve and close; some customers reopen, and some answer their survey. The
    stack's clock follows the replay (POST /dev/clock), so the reports show realistic
    times. Surveys are answered only if the stack sends them without delay
    (TICKETFLOW_SURVEY_DELAY_SECONDS=0, as `ticketflow dev --demo` does). Progress on stderr.
    """
    from infra.local.demo import Replay, wait_for

    if args.days < 1 or args.tickets < 1:
        print("ticketflow demo: --days and --tickets must be at least 1", file=sys.stderr)
        return 2
    wait_for(args.url)
    tally = Replay(args.url, api_key=args.api_key, days=args.days, tickets_per_day=args.tickets, seed=args.seed).run()
    return 0 if tally.created else 1


@command(
    arg("--sub", required=True, help="the person's id, e.g. agent-1"),
    arg("--role", required=True, choices=("agent", "supervisor", "admin"), help="the person's group"),
    arg("--ttl-seconds", type=int, default=12 * 3600, help="lifetime (default %(default)s s)"),
)
def token(args: argparse.Namespace) -> int:
    """Print a bearer token that `ticketflow dev` accepts for this identity.

    An HS256 JWT with the claims of a Cognito ID token (sub, cognito:username,
    cognito:groups, token_use), signed with $TICKETFLOW_DEV_TOKEN_SECRET or the dev default.
    """
    from infra.local import tokens

    print(tokens.issue(args.sub, args.role, args.ttl_seconds))
    return 0


@command(
    arg("function", help="a function of the topology, e.g. intake"),
    arg("event", type=argparse.FileType("r", encoding="utf-8"), help="the event as a JSON file (- for stdin)"),
    arg(
        "--endpoint",
        help="AWS endpoint to use, e.g. the emulator `ticketflow dev` printed "
        "(default: start an emulator with the table, queues and demo directory)",
    ),
)
def invoke(args: argparse.Namespace) -> int:
    """Run one function's handler on one event and print its result as JSON.

    The handler's own logs go to stderr, so stdout is the result alone. A handler that
    raises prints Lambda's error payload and exits 1. Sample events are in events/.
    """
    from infra import topology
    from infra.local.emulator import Emulator

    try:
        function = topology.function(args.function)
    except KeyError as error:
        print(f"ticketflow invoke: {error.args[0]}", file=sys.stderr)
        return 2
    event = json.load(args.event)
    emulator = Emulator(endpoint=args.endpoint)
    # Handlers log to stdout (Powertools binds its stream when imported): send it to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        emulator.start()
        try:
            result = emulator.load(function).invoke(event)
        except Exception as error:
            traceback.print_exc()
            result, code = {"errorType": type(error).__name__, "errorMessage": str(error)}, 1
        else:
            code = 0
        finally:
            emulator.stop()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return code


@command(
    arg("--table", required=True, help="the deployed table's name (the stack's TableName output)"),
    arg("--endpoint", help="an AWS endpoint other than the default, e.g. a running emulator"),
)
def seed(args: argparse.Namespace) -> int:
    """Write the demo teams, people and orders into a table (until the admin API manages them).

    Uses the AWS credentials and region of the environment, like the AWS CLI. Idempotent.
    """
    import os

    import ticketflow
    from ticketflow import demo

    os.environ["TICKETFLOW_TABLE_NAME"] = args.table
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    ticketflow.reset()
    for person in demo.seed():
        print(f"{person.id:<10}{person.role.value:<12}{','.join(person.teams) or '-'}")
    return 0


@command(
    arg("queue", help="the work queue whose dead letters go back: classify, assign, outbound, survey or simulate"),
    arg(
        "--prefix",
        default="ticketflow-local",
        help="the stack's name, which prefixes its queues (default %(default)s: `ticketflow dev`)",
    ),
    arg("--endpoint", help="an AWS endpoint other than the default, e.g. the emulator `ticketflow dev` printed"),
    arg("--limit", type=int, help="move at most this many messages (default: all)"),
)
def redrive(args: argparse.Namespace) -> int:
    """Move the messages of a dead-letter queue back to its queue, once the cause is fixed.

    <prefix>-<queue>-dlq to <prefix>-<queue>, where the stage runs them again (every stage is
    idempotent). Uses the AWS credentials and region of the environment, like the AWS CLI;
    against `ticketflow dev`, pass the emulator endpoint it printed.
    """
    import boto3

    from infra.local.emulator import DEFAULT_REGION, FAKE_CREDENTIALS
    from infra.redrive import queue_names
    from infra.redrive import redrive as move

    try:
        queue_names(args.queue, args.prefix)
    except KeyError as error:
        print(f"ticketflow redrive: {error.args[0]}", file=sys.stderr)
        return 2
    if args.endpoint:  # the emulator takes any credentials: fill in only what the shell lacks
        for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": DEFAULT_REGION}.items():
            os.environ.setdefault(name, value)
    moved = move(boto3.client("sqs", endpoint_url=args.endpoint), args.queue, prefix=args.prefix, limit=args.limit)
    print(f"moved {moved.moved} message(s) from {moved.dead_letter_queue} to {moved.queue}")
    return 0


@command(
    arg(
        "--rules",
        type=argparse.FileType("r", encoding="utf-8"),
        help="classification rules as JSON (default: the shipped defaults/classification.json)",
    ),
)
def classify(args: argparse.Namespace) -> int:
    """Classify messages: JSON lines in on stdin, JSON lines out on stdout.

    Each input line is {"id", "text", "subject"?, "customer"?: {"tier"?: "standard"|"vip"}};
    each output line {"id", "category", "subcategory", "priority", "confidence", "reasons",
    "tags", "collaborators", "language"}, from the same Classifier as the classification
    function. A bad line gives {"id", "error"} naming the field, and the others go on; the
    exit code is 0 unless the rules or stdin cannot be read.
    """
    from typing import Annotated

    from pydantic import BaseModel, StringConstraints, ValidationError

    from ticketflow.classification import ClassificationRules, Classifier, default_rules
    from ticketflow.models import Tier

    class Customer(BaseModel):  # the rest of the customer record is the caller's business
        tier: Tier = Tier.STANDARD

    class Line(BaseModel):
        id: str | int
        text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
        subject: str | None = None
        customer: Customer | None = None

    try:
        rules = ClassificationRules.model_validate_json(args.rules.read()) if args.rules else default_rules()
    except (OSError, ValueError) as error:  # a ValidationError is a ValueError
        print(f"ticketflow classify: bad rules: {error}", file=sys.stderr)
        return 2
    classifier = Classifier(rules)
    fields = {"category", "subcategory", "priority", "confidence", "reasons", "tags", "collaborators", "language"}

    def answer(raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError as error:  # also a line that is not UTF-8
            return {"id": None, "error": f"not a JSON line: {error}"}
        try:
            line = Line.model_validate(data)
        except ValidationError as error:
            item_id = data.get("id") if isinstance(data, dict) else None
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in error.errors())
            return {"id": item_id, "error": problems}
        tier = line.customer.tier.value if line.customer else Tier.STANDARD.value
        result = classifier.classify(line.text, subject=line.subject, customer_tier=tier)
        return {"id": line.id, **result.model_dump(include=fields)}

    # Bytes in and out: UTF-8 whatever the locale, and a bad byte spoils one line, not the run.
    out = sys.stdout.buffer
    try:
        for raw in sys.stdin.buffer:
            if raw.strip():
                out.write(json.dumps(answer(raw), ensure_ascii=False).encode() + b"\n")
                out.flush()  # an answer per line as it comes: usable as a filter in a pipe
    except OSError as error:
        print(f"ticketflow classify: cannot read stdin: {error}", file=sys.stderr)
        return 1
    return 0


@command(
    arg(
        "action", choices=("export", "import", "diff"), help="export the live configuration, import a file, or diff one"
    ),
    arg(
        "file",
        nargs="?",
        help="import/diff: the document (.json, .yaml or .yml; - for stdin); export: where to "
        "write it (default stdout)",
    ),
    arg("--url", default="http://127.0.0.1:3000", help="the stack's base URL (default %(default)s)"),
    arg(
        "--token",
        default=os.environ.get("TICKETFLOW_TOKEN"),
        help="an admin's bearer token (default "
        "$TICKETFLOW_TOKEN, else a local token for admin-1, which only `ticketflow dev` accepts)",
    ),
    arg("--format", choices=("json", "yaml"), help="export format (default: from the file name, else json)"),
    arg("--reason", help="import: why (kept with every version it makes)"),
)
def config(args: argparse.Namespace) -> int:
    """Move run-time configuration between stages: export, import, diff.

    export writes every kind (rules, knowledge base, routing, SLA, calendars, surveys,
    notifications, report definitions) as one document; import makes each kind that differs
    a new version on the target stack, all or nothing, after validating it there; diff shows
    what an import would change, kind by kind, without changing anything.
    """
    from infra import config_cli

    return config_cli.run(args)


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="ticketflow", description="ticketflow: customer-service tickets on AWS, and on this machine."
    )
    subparsers = main_parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for run, arguments in _COMMANDS:
        doc = inspect.getdoc(run) or ""
        sub = subparsers.add_parser(
            run.__name__,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for names, options in arguments:
            sub.add_argument(*names, **options)
        sub.set_defaults(run=run)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
