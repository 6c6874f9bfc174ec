"""Hook implementations of the example plugin: one of each hook the host offers."""

from importlib import resources
from pathlib import Path

import trio
import yaml

from wazuhd import collect, hookimpl
from wazuhd.rbac import RbacAction, expose_resources
from wazuhd.cli import CliCommand
from wazuhd.config import ConfigSection
from wazuhd.daemon import Service
from wazuhd.errors import WazuhError, register_codes
from wazuhd.results import AffectedItemsResult, paginate
from wazuhd.routes import Route
from wazuhd.sockets import SocketCommand
from wazuhd.store import Migration

INVALID_NAME = 9901
register_codes({INVALID_NAME: {"message": "Invalid name for the example greeting",
                               "remediation": "Send a string parameter 'name'"}})

SECTION = ConfigSection("example", description="The example plugin.", schema={
    "type": "object",
    "properties": {
        "greeting": {"type": "string", "default": "hello",
                     "description": "What the greet command answers."},
        "consume_events": {"type": "boolean", "default": False,
                           "description": "Take over the event channel."},
        "consume_delay": {"type": "number", "minimum": 0, "default": 0,
                          "description": "Seconds spent on each event (a slow consumer)."},
        "tick": {"type": "number", "exclusiveMinimum": 0, "default": 0.05},
        "inbox": {"type": ["string", "null"], "default": None,
                  "description": "A folder whose *.log files are pulled, one event per line."},
        "inbox_interval": {"type": "number", "exclusiveMinimum": 0, "default": 0.2},
    },
})


@hookimpl
def wazuhd_config_schema():
    return SECTION


@hookimpl
def wazuhd_db_migrations():
    return [
        Migration("example", "example-0001-notes",
                  sql="CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"),
        Migration("example", "example-0002-seed",
                  apply=lambda conn: conn.execute("INSERT INTO notes (text) VALUES ('first')")),
    ]


class State:
    ticks = 0
    events: list = []
    alerts = 0


@hookimpl
def wazuhd_startup(ctx):
    ctx.announce("example", f"greeting {ctx.config['example']['greeting']!r}")
    ctx.add_counters("example", lambda: {"ticks": State.ticks, "events": len(State.events),
                                         "alerts": State.alerts})


@hookimpl
def wazuhd_shutdown(ctx):
    (ctx.home.root / "example-shutdown").write_text("clean\n")


@hookimpl
def wazuhd_ruleset():
    return resources.files("wazuhd_example").joinpath("ruleset")


@hookimpl
def wazuhd_services(ctx):
    async def ticker(task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        while True:
            State.ticks += 1
            await trio.sleep(ctx.config["example"]["tick"])

    async def crasher(task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        raise RuntimeError("this service always fails")

    inbox = ctx.config["example"]["inbox"]
    pulled = collect.services(ctx, "example_inbox", [InboxSource(
        inbox, ctx.config["example"]["inbox_interval"])]) if inbox else []
    return [Service("ticker", ticker), Service("crasher", crasher), *pulled]


class InboxSource(collect.Source):
    """A pull integration on the host's machinery: new ``*.log`` files of a folder."""

    name, location = "inbox", "example-inbox"

    def __init__(self, folder: str, interval: float):
        self.folder, self.interval = Path(folder), interval

    async def collect(self, run):
        done = (await run.checkpoint() or {}).get("last", "")
        for path in sorted(self.folder.glob("*.log")):
            if path.name > done:
                await run.emit({"example": {"file": path.name, "line": line}}
                               for line in path.read_text().splitlines())
                await run.commit("", {"last": path.name})




async def greet(ctx, request):
    name = request.parameters.get("name")
    if not isinstance(name, str):
        raise WazuhError(INVALID_NAME, f"got {name!r}")
    rows = await ctx.store.db("example").fetchall("SELECT text FROM notes")
    return {"greeting": f"{ctx.config['example']['greeting']}, {name}",
            "notes": [row["text"] for row in rows]}


async def boom(ctx, request):
    raise ZeroDivisionError("boom on purpose")


async def echo(ctx, request):
    return request.parameters


@hookimpl
def wazuhd_socket_commands():
    return [
        SocketCommand("example", "greet", greet, "Greet someone."),
        SocketCommand("example", "boom", boom, "Fail on purpose."),
        SocketCommand("example", "echo", echo, "Return the parameters."),
    ]


@hookimpl
def wazuhd_event_consumer(ctx):
    if not ctx.config["example"]["consume_events"]:
        return None

    async def consume(receive_channel, task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        async with receive_channel:
            async for event in receive_channel:
                await trio.sleep(ctx.config["example"]["consume_delay"])
                State.events.append(event)
                log_path = ctx.home.root / "example-events"
                with log_path.open("a") as out:
                    out.write(f"{event.queue}|{event.location}|{event.message}\n")

    return consume


@hookimpl
def wazuhd_cli_commands():
    def configure(parser):
        parser.add_argument("name")

    def run(args):
        print(f"hello from the example plugin, {args.name}")
        return 0

    def configure_inbox(parser):
        parser.add_argument("folder")
        collect.add_standalone_arguments(parser)

    def run_inbox(args):
        return collect.run_standalone(InboxSource(args.folder, 0), args)

    return [CliCommand("example-hello", "say hello (example plugin)", configure, run),
            CliCommand("example-inbox", "pull the inbox folder once", configure_inbox,
                       run_inbox)]


@hookimpl
def wazuhd_rbac_actions():
    return [RbacAction("example:read", "Read the example plugin's notes", ["*:*"],
                       ["GET /example/notes"])]


@expose_resources(actions=["example:read"], resources=["*:*:*"])
async def list_notes(rbac, *, db, **params):
    """An RBAC-guarded operation: plain arguments, usable from the API, CLI or tests."""
    rows = await db.fetchall("SELECT id, text FROM notes")
    result = AffectedItemsResult(all_msg="All notes were returned", none_msg="No note was returned")
    return paginate(result, rows, **params)


async def get_notes(request):
    params = {k: request.params[k] for k in ("offset", "limit", "sort", "search", "select", "q")
              if k in request.params}
    return await list_notes(request.user.rbac, db=request.ctx.store.db("example"), **params)


@hookimpl
def wazuhd_api_routes():
    return [Route("GET", "/example/notes", get_notes)]


@hookimpl
def wazuhd_openapi():
    return yaml.safe_load(resources.files("wazuhd_example").joinpath("openapi.yaml").read_text())


@hookimpl
def wazuhd_alert(alert):
    State.alerts += 1
