"""The detail pane: everything about the highlighted generation, drawn literally."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual.worker import Worker

from storage import Generation
from storage.clock import parse_iso
from storage.records import LIVE, BatchSummary
from tui.dashscope.explain import NEVER_RETRIED, RETRIED, explain, failure_class
from tui.engine.history import timeline
from tui.engine.media import preview
from tui.safe_text import printable
from tui.ui import graphics
from tui.ui.actions import Where
from tui.ui.bindings import bindings
from tui.ui.cells import clock_span, elapsed, human_bytes, took
from tui.ui.halfblock import sheet
from tui.ui.messages import PreviewReady, report_failure
from tui.ui.tolerant import tolerant
from tui.ui.view.history import BatchDetails, Details

if TYPE_CHECKING:  # annotations only: the status records come with a detail's read
    from storage import StatusEvent

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
             status_style: Style, tags: list[str] | None = None,
             by: str | None = None, waiting: str | None = None) -> Text:
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
    if status in LIVE:
        extra = f"  {clock_span(elapsed(row, now))}"
    line("Status", status + extra, status_style)
    if waiting:  # in the local queue: its place, and when it should start
        line("Queued", waiting)
        if row.submission_note:  # why it is back in the queue
            line("Last try", row.submission_note)
    if status in ("FAILED", "REJECTED") or row.error_code or row.error_message:
        meaning, action = explain(row.error_code)
        cause = failure_class(row.error_code)
        line("Error", row.error_code or "(no code given)", status_style)
        line("Message", row.error_message or "(none given)")
        line("Cause", cause.value + (" — worth another try: [queue] retry_failed queues it "
                                     "again" if cause in RETRIED and status == "FAILED" else
                                     " — never retried by itself" if cause in NEVER_RETRIED
                                     else ""))
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
    elif row.status == "SUCCEEDED" and row.saved_on:
        line("Download", f"saved on {', '.join(row.saved_on)}, not here — press d to save "
                         "it here")
    elif row.status == "SUCCEEDED":
        line("Download", "not yet — press d")
    if row.saved_on and row.download_state in ("done", "downloading", "failed"):
        line("Also on", ", ".join(row.saved_on))

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
    if by:
        line("By", by)
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
    """Scrollable; its content is replaced whenever the highlighted row changes.

    The screen passes down what to show (``show_details``); the pane decodes the
    video's frames itself, in a thread, and shows them when they come.
    """

    can_focus = True
    PLACE = Where.PANE
    BINDINGS: ClassVar[list[BindingType]] = bindings(PLACE)
    PREVIEWS_KEPT = 64

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Set by the screen: how to read a row's details, the clock, the colours.
        self.details: Callable[[Generation], Awaitable[Details | None]] | None = None
        self.now: Callable[[], datetime] = datetime.now
        self.style_for: Callable[[str], Style] = lambda status: Style()
        self.cache: Path | None = None  # where decoded frames are kept (the screen sets it)
        self.graphics: str | None = None  # the terminal's graphics protocol, if any
        self._row_id: int | None = None
        self._previews: dict[tuple[int, str | None], Any] = {}  # Text, or a Pillow image
        self._frames: dict[int, Text] = {}  # a first frame per saved variation
        self._batch: tuple[BatchDetails, datetime] | None = None  # the batch shown

    def compose(self) -> ComposeResult:
        yield Static(id="preview")
        yield Static(Text("Select a task to see its details.", style="dim"), id="detail-body")

    def show(self, content: Text | Table, *, row_id: int | None = None) -> None:
        """New content; another row's starts from the top."""
        self.query_one("#detail-body", Static).update(content)
        if row_id != self._row_id:
            self._row_id = row_id
            self.scroll_home(animate=False)

    def show_row(self, row: Generation | None) -> None:
        """Show this row (read from the store with its history once the screen has been
        refreshed: the table a key changed is painted first, the details a frame later)."""
        self.call_after_refresh(self._load, row)

    @tolerant
    async def _load(self, row: Generation | None) -> None:
        if self.is_attached and self.details is not None:
            self.show_details(await self.details(row) if row is not None else None, self.now())

    def show_details(self, details: Details | None, now: datetime) -> None:
        """A task (with its video's frames), a folded batch's variations, or nothing."""
        self._batch = None
        if details is None:
            self.show(Text("Select a task to see its details.", style="dim"))
            self.show_preview(None)
        elif isinstance(details, BatchDetails):
            self._batch = (details, now)
            self._show_batch()
            self.show_preview(None)
            self._decode_frames(details.variations)
        else:
            row = details.row
            self.show(describe(row, details.events, now, self.style_for(row.display_status),
                               details.tags, details.by, details.queue), row_id=row.id)
            self._show_preview(row)

    def _show_batch(self) -> None:
        if self._batch is None:
            return
        details, now = self._batch
        self.show(describe_batch(details.summary, details.variations, now, self._frames,
                                 self.style_for, width=self.size.width or 48),
                  row_id=details.row.id)

    def show_preview(self, content: Any) -> None:
        """Half-block ``Text``, a Pillow image (graphics protocol), or None to hide."""
        preview = self.query_one("#preview", Static)
        for old in self.query(".preview-graphic"):  # no id: a removal is not done at once,
            old.remove()  # and two previews in a row must not collide on one
        if content is None or isinstance(content, Text):
            preview.update(content or "")
            preview.display = content is not None
            return
        preview.display = False
        self.mount(graphics.image_widget(content), before=preview)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failure(self, event)  # (the App shows it: none of its workers fails silently)

    # -- frames, decoded in threads ------------------------------------------------------

    def _show_preview(self, row: Generation) -> None:
        if row.download_state != "done" or not row.download_path or self.cache is None:
            self.show_preview(None)
            return
        key = (row.id, row.download_sha256)
        if key in self._previews:
            self.show_preview(self._previews[key])
            return
        self.show_preview(Text("decoding preview…", style="dim"))
        self.run_worker(partial(self._decode_preview, row, self.cache), thread=True,
                        group="preview", exclusive=True, exit_on_error=False, name="preview")

    def _decode_preview(self, row: Generation, cache: Path) -> None:
        """Runs in a thread: PyAV blocks.  Reports back by message only."""
        path = Path(row.download_path or "")
        try:
            thumbs = preview.cached(path, row.download_sha256, cache)
            picture = None
            if self.graphics is not None:
                big = preview.cached(path, row.download_sha256, cache, max_w=160, max_h=120)
                picture = graphics.contact_sheet(big)
        except preview.PreviewError as exc:
            self.post_message(PreviewReady(row.id, None, str(exc),
                                           sha256=row.download_sha256))
            return
        self.post_message(PreviewReady(row.id, list(thumbs), picture=picture,
                                       sha256=row.download_sha256))

    def _decode_frames(self, rows: list[Generation]) -> None:
        """A first frame of each saved variation (in a thread, once each)."""
        wanted = [r for r in rows if r.download_state == "done" and r.download_path
                  and r.id not in self._frames]
        if wanted and self.cache is not None:
            self.run_worker(partial(self._frames_in_thread, wanted, self.cache), thread=True,
                            group="frames", exclusive=True, exit_on_error=False)

    def _frames_in_thread(self, rows: list[Generation], cache: Path) -> None:
        for row in rows:
            try:
                thumbs = preview.cached(Path(row.download_path or ""), row.download_sha256,
                                        cache)
            except preview.PreviewError:
                continue
            self.post_message(PreviewReady(row.id, list[object](thumbs[:1]), frame_only=True))

    def on_preview_ready(self, message: PreviewReady) -> None:
        if message.frame_only:  # a variation's frame for the batch view
            if message.thumbs:
                self._frames[message.generation_id] = sheet(message.thumbs)  # type: ignore[arg-type]
                self._show_batch()
            return
        content: Any = (sheet(message.thumbs) if message.thumbs  # type: ignore[arg-type]
                        else Text(f"No preview: {message.error}", style="dim"))
        if message.picture is not None:
            content = message.picture
        self._previews[(message.generation_id, message.sha256)] = content
        if len(self._previews) > self.PREVIEWS_KEPT:
            self._previews.pop(next(iter(self._previews)))
        if self._row_id == message.generation_id:
            self.show_preview(content)
