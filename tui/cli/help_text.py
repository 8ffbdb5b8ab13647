"""What ``pixverse-tui COMMAND --help`` says above and below the options: a paragraph
on what the command is for, and examples to copy (as gh's help does)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from tui.text_width import terminal_columns

DOCS = ("More: pixverse-tui help cli (every command, its --json shape and exit status), "
        "or docs/cli.md.")

# command -> (description, examples).  Each description is written wrapped at 78 columns,
# as printed: wrapping it when the parser is built would load textwrap into every run.
HELP: dict[str, tuple[str, list[str]]] = {
    "submit": (
        "Create text-to-video tasks on PixVerse v5.6: one prompt, a saved template or a\n"
        "batch file. Everything is counted, priced and checked against [budget] before\n"
        "anything is queued, and each task is sent once: a batch file run again queues\n"
        "only what was not sent. A prompt goes ahead of batch lines and is sent at once\n"
        "when the account has room; a batch file's lines wait in the local queue for\n"
        "the dashboard or `watch` to send (see `queue`). Each task is billed.",
        ['pixverse-tui submit "a red fox in fresh snow, slow dolly" --wait --download',
         'pixverse-tui submit "a {fox|owl} at dawn" --variations 3 --dry-run',
         "pixverse-tui submit --from prompts.txt --size 1920*1080 --duration 8"]),
    "queue": (
        "The local queue: what waits to be sent (QUEUED: nothing sent, nothing billed),\n"
        "in the order it will be sent, with estimated start and finish times; pause and\n"
        "resume it or one batch, move items, hold them, change their priority or take\n"
        "them off. Whoever polls the account (the dashboard or `watch`) sends it as the\n"
        "account has room.",
        ["pixverse-tui queue list --limit 50",
         "pixverse-tui queue pause f3a9c1d2e4b5a6c7 --take-back",
         "pixverse-tui queue move top '#812' '#813'"]),
    "list": (
        "List the generations in your history, newest first, with their status. The\n"
        "search takes the words and filter tokens the dashboard's filter takes.",
        ["pixverse-tui list --status RUNNING,PENDING",
         'pixverse-tui list --search "fox tier:720P dl:no" --limit 20',
         "pixverse-tui list --json | jq -r '.[].task_id'"]),
    "show": (
        "Everything about one generation: its settings, times, usage, error, download\n"
        "and status history. Given a video file (FILE.mp4) instead, it names the\n"
        "generation the video comes from, by the metadata saved in it or by its\n"
        "SHA-256.",
        ["pixverse-tui show 0f1e2d3c", "pixverse-tui show '#12' --json",
         "pixverse-tui show ~/Videos/pixverse-tui/2026-03-01_fox.mp4"]),
    "forget": (
        "Move generations to the trash: those named, or every one with a status —\n"
        "--status REJECTED clears the submissions the service refused (they created\n"
        "nothing and cost nothing). It asks first, with the count (--yes for scripts);\n"
        "nothing is sent to the service, and the dashboard's in:trash brings a row back\n"
        "for 30 days.",
        ["pixverse-tui forget --status REJECTED",
         "pixverse-tui forget '#12' '#13' --yes --json"]),
    "wait": (
        "Follow tasks until each one ends, then print them; exit status 1 unless every\n"
        "one succeeded. The service keeps a task's video for 24 hours: --download saves\n"
        "each video as soon as it is ready.",
        ["pixverse-tui wait 0f1e2d3c", "pixverse-tui wait '#12' '#13' --download --json"]),
    "download": (
        "Save finished videos to the downloads folder (or --to FOLDER). A video being\n"
        "downloaded by another process is waited for, not fetched twice.",
        ["pixverse-tui download 0f1e2d3c", "pixverse-tui download '#12' '#13' --to ~/clips"]),
    "cancel": (
        "Cancel a task the service has not started yet (PENDING). A running task cannot\n"
        "be canceled.",
        ["pixverse-tui cancel 0f1e2d3c", "pixverse-tui cancel '#12' --json"]),
    "track": (
        "Follow tasks created elsewhere (the SDK, the console, another machine) by\n"
        "their task ids: they join your history and are polled like your own.",
        ["pixverse-tui track 0f1e2d3c-1a2b-4c5d-8e9f-0a1b2c3d4e5f",
         "pixverse-tui track ID1 ID2 --json"]),
    "resolve": (
        "Settle submissions whose outcome is unknown (UNCONFIRMED: the create request\n"
        "got no clear answer). The service's task list is searched for the task each\n"
        "one made; nothing is ever sent again by this command.",
        ["pixverse-tui resolve", "pixverse-tui resolve 12 --task 0f1e2d3c-…",
         "pixverse-tui resolve 12 --abandon"]),
    "export": (
        "Write the history as JSON Lines (one generation per line) or CSV, to standard\n"
        "output or a file; the filter options choose which generations.",
        ["pixverse-tui export -o history.jsonl",
         "pixverse-tui export --format csv --status SUCCEEDED --since 2026-03-01 -o march.csv"]),
    "import": (
        "Add generations to the history: an export (JSON Lines), a sidecar NAME.json, a\n"
        "video saved by pixverse-tui, or a folder of them. Generations already there\n"
        "(by task id) are left as they are, so importing twice is harmless.",
        ["pixverse-tui import history.jsonl", "pixverse-tui import ~/Videos/pixverse-tui"]),
    "sync": (
        "Adopt the tasks made by other clients with the same key in the last 24 hours\n"
        "(the service keeps no older list), so they appear in your history.",
        ["pixverse-tui sync", "pixverse-tui sync --json"]),
    "stats": (
        "Usage statistics over the history (or the part the filter options choose):\n"
        "videos and seconds per day and per tier, queue and generation times, the most\n"
        "common errors, the estimated cost and the [budget] left.",
        ["pixverse-tui stats", "pixverse-tui stats --since 2026-03-01 --tier 1080P --json"]),
    "watch": (
        "Follow every unfinished task without the dashboard: print each one as it ends,\n"
        "download the videos before their links expire, and signal (bell or desktop\n"
        "notification). Runs until Ctrl-C. With --json, each event is one JSON object\n"
        "on a line of standard output, for a script.",
        ["pixverse-tui watch", "pixverse-tui watch --download --signal osc9",
         "pixverse-tui watch --json | jq -r 'select(.event == \"saved\") | .path'"]),
    "locate": (
        "Where the config file, the database, the downloads and the demo's data are,\n"
        "which endpoint is in use and which key (masked).",
        ["pixverse-tui locate", "pixverse-tui locate --json"]),
    "config": (
        "The config file without starting the dashboard: path prints where config.toml\n"
        "is (it need not exist); show lists every setting in effect and where it came\n"
        "from (default, file, environment), the key masked; check validates\n"
        "config.toml, templates.toml, the themes folder and [keys] and exits 1 on a\n"
        "problem, with the dashboard's own messages and line numbers.",
        ["pixverse-tui config path", "pixverse-tui config show",
         "pixverse-tui config check || $EDITOR \"$(pixverse-tui config path)\""]),
    "help": (
        "The long stories, in the terminal: each page of the docs (configuration, keys,\n"
        "batches, following, history, cli, safety, simulator…) printed as plain text,\n"
        "through your pager when it is longer than the screen. help alone lists the\n"
        "topics; help COMMAND is COMMAND --help.",
        ["pixverse-tui help", "pixverse-tui help configuration",
         "pixverse-tui help keys | grep download"]),
    "completion": (
        "Print a shell completion script (commands, options, file arguments and the\n"
        "values of --status, --tier and --format). Load it from your shell's startup\n"
        "file.",
        ['eval "$(pixverse-tui completion bash)"      # in ~/.bashrc',
         'eval "$(pixverse-tui completion zsh)"       # in ~/.zshrc',
         "pixverse-tui completion fish > ~/.config/fish/completions/pixverse-tui.fish"]),
    "store": (
        "The history's database. store copy copies every generation — the trash, tags,\n"
        "notes, status history, batches and each machine's downloads — into another\n"
        "store: a team's PostgreSQL database or a SQLite file. Stopped or killed half-\n"
        "way, run it again: it adds exactly what is missing; run twice, it adds\n"
        "nothing.",
        ["pixverse-tui store copy --to postgresql://studio-db/pixverse",
         "pixverse-tui store copy --from postgresql://studio-db/pixverse --to ~/history.db",
         "pixverse-tui store copy --to ~/backup/tasks.db --json"]),
    "simulate": (
        "Run a local service that speaks DashScope's video protocol, with a fast clock\n"
        "and injectable faults: try everything without a key and without cost.",
        ["pixverse-tui simulate --port 8470 --speed 60",
         "DASHSCOPE_HTTP_BASE_URL=http://127.0.0.1:8470/api/v1 DASHSCOPE_API_KEY=sk-demo "
         "pixverse-tui list"]),
    "serve": (
        "Serve the dashboard to a browser (needs the web extra: pip install 'pixverse-\n"
        "tui[web]'). It listens on this machine only and prints a URL with an access\n"
        "token; each tab runs its own dashboard on the same history, and one of them\n"
        "polls. --read-only serves viewers who cannot create, cancel or forget.",
        ["pixverse-tui serve",
         "pixverse-tui serve --read-only --max-sessions 4",
         "pixverse-tui serve --demo   # no key: the built-in simulator"]),
}


def add_help_text(parsers: Mapping[str, argparse.ArgumentParser]) -> None:
    """Give each subcommand its paragraph and examples (kept as written)."""
    for name, parser in parsers.items():
        description, examples = HELP[name]
        parser.description = description
        parser.epilog = "examples:\n" + "\n".join(f"  $ {e}" for e in examples) + f"\n\n{DOCS}"
        parser.formatter_class = RawDescriptionFormatter


class Formatter(argparse.HelpFormatter):
    """argparse's help layout, the terminal's width read without importing shutil
    (argparse makes a formatter for every option added, and its own imports shutil)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class RawDescriptionFormatter(Formatter, argparse.RawDescriptionHelpFormatter):
    """A command's paragraph and examples kept as written."""
