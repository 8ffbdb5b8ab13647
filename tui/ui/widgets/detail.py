"""The detail pane: everything about the highlighted generation, drawn literally."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from storage import Generation, StatusEvent
from storage.clock import parse_iso
from storage.records import BatchSummary
from tui.dashscope.explain import explain
from tui.engine import timeline
from tui.safe_text import printable
from tui.ui.cells import clock_span, elapsed, human_bytes, took

BAR = 24


def _local(stamp: str | None) -> str:
    moment = parse_iso(stamp)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def progress_bar(done: int, total: int | None) -> str:
    if not total:
        return f"{human_bytes(done)} so far"
    share = min(1.0, done / total)
    filled = int(share * BAR)
    return f"{'█' * filled}{'░' * (BAR - filled)} {share:4.0%}  {human_bytes(done)} of " \
           f"{human_bytes(total)}"


def describe(row: Generation, events: list[StatusEvent], now: datetime,
             status_style: Style, tags: list[str] | None = None) -> Text:
    """The pane's content, most wanted first: what went wrong (for a failed task), the
    prompt and the video, then settings, times, usage, ids and history.  Prompt and
    server text are appended as plain strings, every control character made visible."""
    out = Text()
    label = Style(dim=True)

    def line(name: str, value: object, style: Style | str = "") -> None:
        out.append(f"{name:<11}", label)
        out.append(f"{printable(value)}\n", style)

    status = row.display_status
    extra = ""
    if status in ("PENDING", "RUNNING", "SUSPENDED"):
        extra = f"  {clock_span(elapsed(row, now))}"
    line("Status", status + extra, status_style)
    if status in ("FAILED", "REJECTED") or row.error_code or row.error_message:
        meaning, action = explain(row.error_code)
        line("Error", row.error_code or "(no code given)", status_style)
        line("Message", row.error_message or "(none given)")
        line("Meaning", meaning)
        line("To do", action, Style(bold=True))
    if row.submission == "unconfirmed":
        out.append("The create request got no clear answer: a task may exist (and be billed).\n"
                   "Press u to look for it on the service or to mark it as not created.\n",
                   Style(bold=True))
        if row.submission_note:
            out.append(printable(row.submission_note) + "\n", label)
    if row.task_id and not row.terminal and row.next_poll_at is None and row.poll_error:
        out.append("Not followed any more: ", Style(bold=True))
        out.append(printable(row.poll_error) + "\n")
        out.append("Press u to follow it again.\n", label)
    elif row.poll_error and not row.terminal:
        out.append(f"Last poll failed ({row.poll_failures}×): ", label)
        out.append(printable(row.poll_error) + "\n", label)

    out.append("\nPrompt\n", Style(bold=True))
    out.append(printable(row.prompt, multiline=True) + "\n\n")
    line("Video URL", row.video_url or "—")
    if row.download_state == "done":
        size = human_bytes(row.download_bytes)
        line("File", f"{row.download_path}  ({size})")
        line("SHA-256", (row.download_sha256 or "")[:16] + "…")
    elif row.download_state == "downloading":
        line("Download", progress_bar(row.download_bytes or 0, row.download_total))
    elif row.download_state == "failed":
        line("Download", f"failed: {row.download_error} — press d to retry (it resumes)",
             Style(color="red"))
    elif row.download_state in ("expired", "refused"):
        line("Download", f"{row.download_state}: {row.download_error}", Style(color="red"))
    elif row.status == "SUCCEEDED":
        line("Download", "not yet — press d")

    out.append("\n")
    line("Size", f"{row.size}  {row.duration} s  audio {'on' if row.audio else 'off'}  "
                 f"watermark {'on' if row.watermark else 'off'}")
    line("Seed", "random" if row.seed is None else row.seed)
    line("Model", row.model)
    if row.favourite or tags:
        line("Marked", ("★ favourite  " if row.favourite else "") + " ".join(
            f"#{t}" for t in tags or []))
    if row.note:
        line("Note", row.note)
    out.append("\n")
    line("Created", _local(row.created_at))
    line("Submitted", _local(row.submit_time))
    line("Scheduled", _local(row.scheduled_time))
    line("Ended", _local(row.end_time))
    queue = timeline.queue_seconds(row)  # None: not known, or the times contradict
    work = timeline.generation_seconds(row)
    line("Queue", f"{queue:.1f} s" if queue is not None else "—")
    line("Generation", f"{work:.1f} s" if work is not None else "—")
    if row.usage_size is not None or row.usage_duration is not None:
        out.append("\nUsage\n", Style(bold=True))
        line("  duration", f"{row.usage_duration:g} s" if row.usage_duration is not None
             else "—")
        line("  size", row.usage_size or "—")
        line("  fps", row.usage_fps if row.usage_fps is not None else "—")
        line("  SR", row.usage_sr or "—")
        line("  audio", {True: "yes", False: "no", None: "—"}[row.usage_audio])
        line("  videos", row.usage_video_count if row.usage_video_count is not None else "—")
    out.append("\n")
    line("Task id", row.task_id or "—")
    line("Request", row.create_request_id or "—")
    if row.last_request_id and row.last_request_id != row.create_request_id:
        line("Last req.", row.last_request_id)
    if events:
        out.append("\nHistory\n", Style(bold=True))
        for event in events[-8:]:
            out.append(f"{_local(event.at)}  {printable(event.status)}", label)
            if event.detail:
                out.append(f"  {printable(event.detail)}", label)
            out.append("\n")
    out.rstrip()
    return out


def describe_batch(summary: BatchSummary, rows: list[Generation], now: datetime,
                   frames: dict[int, Text], style_for: Any, width: int = 48) -> Table:
    """A batch's variations side by side — seed, status, time, a frame — to pick the
    best: as many abreast as the pane's width allows (16 columns each), row after row."""
    table = Table(title=printable(f"×{summary.total} {' '.join(summary.label.split())[:60]}"),
                  title_justify="left", show_header=False, box=None, padding=(0, 1))
    per_row = max(1, min(4, width // 16))
    shown = rows[:per_row * 4]
    for _ in range(per_row):
        table.add_column(no_wrap=True, overflow="ellipsis")
    for start in range(0, len(shown), per_row):
        group = shown[start:start + per_row]
        pad = [Text("")] * (per_row - len(group))
        table.add_row(*(Text(f"#{r.id}", style="bold") for r in group), *pad)
        table.add_row(*(Text(f"seed {r.seed if r.seed is not None else '—'}") for r in group),
                      *pad)
        table.add_row(*(Text(printable(r.display_status), style=style_for(r.display_status))
                        for r in group), *pad)
        table.add_row(*(Text(clock_span(took(r)) or clock_span(elapsed(r, now)) or "—",
                             style="dim") for r in group), *pad)
        table.add_row(*(frames.get(r.id, Text("(not saved)" if r.status == "SUCCEEDED"
                                              else "", style="dim")) for r in group), *pad)
        table.add_row(*([Text("")] * per_row))
    if len(rows) > len(shown):
        table.caption = f"… and {len(rows) - len(shown)} more (z unfolds the batch)"
    return table


class DetailPane(VerticalScroll):
    """Scrollable; its content is replaced whenever the highlighted row changes."""

    can_focus = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "screen.focus_tasks", "To tasks", id="detail.leave"),
    ]

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="preview")
        yield Static(Text("Select a task to see its details.", style="dim"), id="detail-body")

    _row_id: int | None = None

    def show(self, content: Text | Table, *, row_id: int | None = None) -> None:
        """New content; another row's starts from the top."""
        self.query_one("#detail-body", Static).update(content)
        if row_id != self._row_id:
            self._row_id = row_id
            self.scroll_home(animate=False)

    def show_preview(self, content: Any) -> None:
        """Half-block ``Text``, a Pillow image (graphics protocol), or None to hide."""
        preview = self.query_one("#preview", Static)
        for old in self.query("#preview-graphic"):
            old.remove()
        if content is None or isinstance(content, Text):
            preview.update(content or "")
            preview.display = content is not None
            return
        preview.display = False
        from tui.ui.graphics import image_widget

        self.mount(image_widget(content), before=preview)
