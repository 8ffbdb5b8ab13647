"""The simulator's HTTP front: routes, auth, validation, errors, media, control.

Implements the protocol sheet (``../shared/dashscope-video-protocol.md``) over a
threaded stdlib HTTP/1.1 server with keep-alive.  Control endpoints under
``/_sim/`` let tests and benchmarks inject faults and move the clock.
"""

from __future__ import annotations

import json
import math
import random
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from tui.simulator.faults import Fault, FaultPlan, FaultRates
from tui.simulator.traffic import Traffic
from tui.simulator.world import MODELS, SERVER_TZ, SIZES, SimClock, SimTask, World, server_time

API = "/api/v1"
CREATE = API + "/services/aigc/video-generation/video-synthesis"
SEED_MAX = 2_147_483_647


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 1.0
    api_key: str | None = None  # None: any "sk-…" key is accepted
    failure_rate: float = 0.05
    early_failure_rate: float = 0.0  # share of tasks FAILED by moderation while PENDING
    seed: int | None = None
    rates: FaultRates = field(default_factory=FaultRates)
    min_work: float = 60.0  # simulated seconds of generation, before duration/tier scaling
    max_work: float = 300.0
    queue_delay: tuple[float, float] = (0.5, 4.0)  # simulated seconds PENDING when idle
    max_page_size: int = 100  # [?] undocumented; larger list pages are refused with 400


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (tests do it on purpose) is not news."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ApiFailure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _clip(ratio: str) -> bytes:
    return resources.files("tui.simulator").joinpath(f"clips/{ratio}.mp4").read_bytes()


class Simulator:
    """A running simulator.  Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        rng = random.Random(self.config.seed)
        self.clock = SimClock(self.config.speed)
        self.world = World(self.clock, failure_rate=self.config.failure_rate,
                           early_failure_rate=self.config.early_failure_rate, rng=rng,
                           min_work=self.config.min_work, max_work=self.config.max_work,
                           queue_delay=self.config.queue_delay)
        self.faults = FaultPlan(rates=self.config.rates, rng=random.Random(rng.random()))
        self.requests: list[tuple[str, str]] = []  # (method, path) log, for tests
        self.lists: list[str] = []  # the status each list call asked for ("" for none)
        self.traffic = Traffic()  # answers by endpoint and status, busiest second
        self.media_headers: list[dict[str, str]] = []  # each media request's headers
        self._clips: dict[str, bytes] = {}
        handler = type("Handler", (_Handler,), {"sim": self})
        self.httpd = _Server((self.config.host, self.config.port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def origin(self) -> str:
        host = self.config.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + API

    def clip(self, ratio: str) -> bytes:
        if ratio not in self._clips:
            self._clips[ratio] = _clip(ratio)
        return self._clips[ratio]

    def start(self) -> Simulator:
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        name="simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, **fault: Any) -> None:
        self.faults.push(Fault.from_dict(fault))

    def video_url(self, task: SimTask) -> str:
        return f"{self.origin}/media/{task.task_id}.mp4"


class _Handler(BaseHTTPRequestHandler):
    sim: Simulator
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate sends; without TCP_NODELAY, Nagle's
    # algorithm holds the body back for a delayed ACK (~40 ms per answer).
    disable_nagle_algorithm = True
    server_version = "dashscope-simulator"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo share the terminal

    # -- dispatch -------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._endpoint is not None:
            self.sim.traffic.answered(self._endpoint, code, self.sim.clock.now())
        super().send_response(code, message)

    _endpoint: str | None = None

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        self.sim.requests.append((method, path))
        self._endpoint = None
        body = self._read_body()
        if path.startswith("/_sim/"):
            return self._control(method, path, body)
        if path.startswith("/media/") and method in ("GET", "HEAD"):
            self._endpoint = "media"
            return self._media(path, head=method == "HEAD")
        endpoint, task_id = _route(method, path)
        if endpoint == "list":
            self.sim.lists.append(parse_qs(url.query).get("status", [""])[0])
        self._endpoint = endpoint
        if endpoint is None:
            return self._json(404, {"request_id": _rid(), "code": "NotFound",
                                    "message": f"{method} {path} is not an API of this service."})
        fault = self.sim.faults.take(endpoint, task_id)
        if self.sim.faults.rates.latency:
            time.sleep(self.sim.faults.rates.latency)
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "drop_before":
            return self._drop()
        if (fault is not None and fault.kind in ("status", "malformed", "html", "endless")) or (
                fault is not None and fault.kind == "answer" and not fault.handle):
            return self._fault_answer(fault)
        query = url.query
        if fault is not None and fault.kind == "pages" and fault.repeat:
            query = urlencode([(k, "1" if k == "page_no" else v)
                               for k, v in parse_qsl(query, keep_blank_values=True)])
        try:
            status, payload = self._api(endpoint, task_id, query, body)
        except ApiFailure as failure:
            status, payload = failure.status, {"request_id": _rid(), "code": failure.code,
                                               "message": failure.message}
        if fault is not None and fault.kind == "drop_after":
            return self._drop()
        if fault is not None and fault.kind == "hang_after":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "answer":
            return self._fault_answer(fault)
        if fault is not None and fault.kind == "pages" and endpoint == "list" and status == 200:
            if fault.total_page is not None:
                payload["total_page"] = fault.total_page
            if fault.repeat:
                payload["page_no"] = _positive(parse_qs(url.query).get("page_no", [None])[0],
                                               "page_no", 1)
        if fault is not None and fault.kind == "trickle":
            return self._trickle(200 if status is None else status,
                                 json.dumps(payload, ensure_ascii=False).encode(), fault.rate)
        self._json(status, payload)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # -- API ----------------------------------------------------------------

    def _key(self) -> str:
        header = self.headers.get("Authorization", "")
        if not header.strip():
            raise ApiFailure(401, "InvalidApiKey", "No API-key provided.")
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        expected = self.sim.config.api_key
        if scheme.lower() != "bearer" or not key.startswith("sk-") or (
                expected is not None and key != expected):
            raise ApiFailure(401, "InvalidApiKey", "Invalid API-key provided.")
        return key

    def _api(self, endpoint: str, task_id: str | None, query: str,
             body: bytes) -> tuple[int, dict[str, Any]]:
        key = self._key()
        world = self.sim.world
        if endpoint == "create":
            if self.headers.get("X-DashScope-Async", "").lower() != "enable":
                raise ApiFailure(403, "AccessDenied",
                                 "current user api does not support synchronous calls")
            if not world.allow(key, "create"):
                raise ApiFailure(429, "Throttling.RateQuota",
                                 "Requests rate limit exceeded, please try again later.")
            early = self.sim.faults.take("moderate")
            task = world.create(key, **_validated(body),
                                fail_early_after=early.seconds if early else None)
            return 200, {"request_id": task.request_id,
                         "output": {"task_id": task.task_id, "task_status": "PENDING"}}
        if not world.allow(key, "query"):
            raise ApiFailure(429, "Throttling.RateQuota",
                             "Requests rate limit exceeded, please try again later.")
        if endpoint == "query":
            assert task_id is not None
            return 200, self._task_body(world.get(key, task_id), task_id)
        if endpoint == "cancel":
            assert task_id is not None
            if not world.cancel(key, task_id):
                raise ApiFailure(400, "UnsupportedOperation",
                                 "Failed to cancel the task, please confirm if the task is in "
                                 "PENDING status.")
            return 200, {"request_id": _rid()}
        return 200, self._listing(key, parse_qs(query))

    def _task_body(self, task: SimTask | None, asked: str) -> dict[str, Any]:
        if task is None:
            return {"request_id": _rid(), "output": {"task_id": asked, "task_status": "UNKNOWN"}}
        wall = self.sim.clock.wall
        output: dict[str, Any] = {"task_id": task.task_id, "task_status": task.status,
                                  "submit_time": server_time(wall(task.created))}
        if task.started is not None:
            output["scheduled_time"] = server_time(wall(task.started))
        if task.ended is not None:
            output["end_time"] = server_time(wall(task.ended))
        body: dict[str, Any] = {"request_id": _rid(), "output": output}
        if task.status == "SUCCEEDED":
            output["orig_prompt"] = task.prompt
            output["video_url"] = self.sim.video_url(task)
            tier = SIZES[task.size][0]
            body["usage"] = {"duration": float(task.duration), "size": task.size, "fps": 24,
                             "video_count": 1, "audio": task.audio, "SR": tier.rstrip("P")}
        elif task.status == "FAILED" and task.fails_with is not None:
            code, message = task.fails_with
            if code is not None:
                output["code"], output["message"] = code, message
        return body

    def _listing(self, key: str, query: dict[str, list[str]]) -> dict[str, Any]:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        clock = self.sim.clock
        end = _list_time(one("end_time"), "end_time") if one("end_time") else clock.wall(
            clock.now())
        start = _list_time(one("start_time"), "start_time") if one("start_time") else (
            end - 86400 / clock.speed)
        # Reported times stay beside the wall clock (see SimClock.wall), so a window the
        # client writes is measured on it; the default window is 24 h of the service's time.
        if one("start_time") and end - start > 86400:
            raise ApiFailure(400, "InvalidParameter",
                             "The time range between start_time and end_time must be within 24 "
                             "hours.")
        if end < start:
            raise ApiFailure(400, "InvalidParameter", "start_time must be before end_time.")
        page_no = _positive(one("page_no"), "page_no", 1)
        page_size = _positive(one("page_size"), "page_size", 10)
        if page_size > self.sim.config.max_page_size:
            raise ApiFailure(400, "InvalidParameter",
                             f"page_size must be between 1 and {self.sim.config.max_page_size}.")
        low, high = clock.sim(start), clock.sim(end + 1)
        rows = [t for t in self.sim.world.listing(key) if low <= t.created <= high]
        for name, attr in (("task_id", "task_id"), ("model_name", "model"), ("status", "status")):
            wanted = one(name)
            if wanted:
                rows = [t for t in rows if getattr(t, attr) == wanted]
        total = len(rows)
        page = rows[(page_no - 1) * page_size: page_no * page_size]
        return {
            "request_id": _rid(), "total": total,
            "total_page": max(1, math.ceil(total / page_size)),
            "page_no": page_no, "page_size": page_size,
            "data": [{
                "api_key_id": "sim-" + uuid.uuid5(uuid.NAMESPACE_OID, key).hex[:12],
                "task_id": t.task_id, "status": t.status, "model_name": t.model,
                "gmt_create": _ms(clock.wall(t.created)),
                "start_time": _ms(clock.wall(t.started)) if t.started is not None else None,
                "end_time": _ms(clock.wall(t.ended)) if t.ended is not None else None,
                "region": "cn-beijing", "request_id": t.request_id,
            } for t in page],
        }

    # -- media ----------------------------------------------------------------

    def _media(self, path: str, *, head: bool) -> None:
        self.sim.media_headers.append(dict(self.headers.items()))
        name = path.rsplit("/", 1)[-1]
        task = self.sim.world.find_any(name.removesuffix(".mp4"))
        if task is None or task.status != "SUCCEEDED" or not name.endswith(".mp4"):
            return self._plain(404, b"Not Found")
        data = self.sim.clip(task.ratio)
        fault = None if head else self.sim.faults.take("media", task.task_id)
        if fault is not None and fault.kind in _MEDIA_ANSWERS:
            return self._media_answer(fault, data)
        kind = "" if fault is None else fault.kind
        start, end = 0, len(data) - 1
        status = 200
        wanted = self.headers.get("Range")
        if wanted and kind != "ignore_range":
            parsed = _byte_range(wanted, len(data))
            if parsed is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = parsed
            status = 206
        if fault is not None and kind == "wrong_range":
            start, end, status = min(max(fault.offset, 0), len(data) - 1), len(data) - 1, 206
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{task.task_id}"')
        if fault is not None and kind == "false_length":
            claimed = fault.length if fault.length is not None else 3 << 30
            self.send_header("Content-Length", str(claimed))
            self.send_header("Connection", "close")
        elif kind == "endless":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if head:
            return
        chunk = data[start:end + 1]
        if fault is not None and kind in ("truncate", "stall"):
            self.wfile.write(chunk[: len(chunk) // 2])
            self.wfile.flush()
            if kind == "stall":
                time.sleep(fault.seconds)
            return self._drop()
        if fault is not None and kind == "trickle":
            return self._dribble(chunk, fault.rate)
        if fault is not None and kind == "hold":
            self.wfile.write(chunk[: len(chunk) // 2])
            self.wfile.flush()
            fault.gate.wait(fault.seconds)
            chunk = chunk[len(chunk) // 2:]
        if kind == "endless":
            return self._endless_media(chunk)
        try:
            self.wfile.write(chunk)
        except OSError:
            self.close_connection = True
        if kind == "false_length":
            self._drop()

    def _media_answer(self, fault: Fault, data: bytes) -> None:
        """Media faults that replace the whole answer: it never looks at the clip's range."""
        if fault.kind == "expired":
            status = fault.status if fault.status in (403, 404, 410) else 403
            page = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                    b"<Message>Request has expired.</Message></Error>")
            return self._raw(status, "application/xml", page)
        if fault.kind == "redirect":
            status = fault.status if fault.status in (301, 302, 303, 307, 308) else 302
            self.send_response(status)
            self.send_header("Location", fault.location or self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if fault.kind == "lie":
            page = (fault.raw or "<html><body><h1>Welcome</h1><p>Please log in.</p></body>"
                    "</html>\n").encode()
            body = (page * (len(data) // len(page) + 1))[: len(data)]
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        return self._fault_answer(fault)  # answer, status, html

    def _dribble(self, data: bytes, rate: float) -> None:
        """Send ``data`` at ``rate`` bytes per second, until done or the client leaves."""
        step = max(1, int(rate / 10))
        try:
            for start in range(0, len(data), step):
                self.wfile.write(data[start:start + step])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            self.close_connection = True

    def _endless_media(self, first: bytes) -> None:
        """Chunked: ``first``, then zeros until the client hangs up (4 GiB at most)."""
        zeros = bytes(65536)
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
            for _ in range(1 << 16):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(zeros), zeros))
        except OSError:
            pass
        self.close_connection = True

    # -- control --------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> None:
        try:
            data = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return self._json(400, {"message": "control bodies are JSON"})
        if path == "/_sim/faults" and method == "POST":
            try:
                for item in data if isinstance(data, list) else [data]:
                    self.sim.inject(**item)
            except (TypeError, ValueError) as exc:
                return self._json(400, {"message": str(exc)})
            return self._json(200, {"queued": len(self.sim.faults.queue)})
        if path == "/_sim/clock" and method in ("POST", "GET"):
            clock = self.sim.clock
            if method == "POST":
                clock.advance(float(data.get("advance", 0)))
            return self._json(200, {"now": server_time(clock.wall(clock.now())),
                                    "sim_now": clock.now(), "speed": clock.speed})
        if path == "/_sim/tasks" and method == "GET":
            with self.sim.world.lock:
                for key in self.sim.world.accounts:
                    self.sim.world.listing(key)  # brings every task's life up to now
                tasks = [{"task_id": t.task_id, "key_suffix": t.key[-4:], "status": t.status,
                          "prompt": t.prompt, "size": t.size, "duration": t.duration,
                          "seed": t.seed, "created": t.created, "started": t.started,
                          "ended": t.ended}
                         for a in self.sim.world.accounts.values() for t in a.tasks.values()]
            return self._json(200, {"tasks": tasks})
        if path == "/_sim/traffic" and method == "GET":
            return self._json(200, self.sim.traffic.snapshot())
        self._json(404, {"message": "unknown control endpoint"})

    # -- writing ------------------------------------------------------------

    def _fault_answer(self, fault: Fault) -> None:
        if fault.kind == "answer":
            data = (fault.raw.encode() if fault.raw is not None
                    else json.dumps(fault.body, ensure_ascii=False).encode())
            kind, _, _ = fault.content_type.partition(";")
            return self._raw(fault.status, kind, data, fault.headers)
        if fault.kind == "endless":
            return self._endless()
        if fault.kind == "malformed":
            return self._raw(200, "application/json", b'{"request_id": "x", "output": {"task_')
        if fault.kind == "html":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return self._raw(502, "text/html", page)
        extra = {}
        if fault.retry_after is not None:
            extra["Retry-After"] = str(math.ceil(fault.retry_after))
        self._json(fault.status, {"request_id": _rid(), "code": fault.code,
                                  "message": fault.message}, extra)

    def _json(self, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self._raw(status, "application/json", data, headers)

    def _plain(self, status: int, data: bytes) -> None:
        self._raw(status, "text/plain", data)

    def _raw(self, status: int, kind: str, data: bytes,
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _endless(self) -> None:
        """A JSON answer that never ends: chunks until the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"a" * 65536
        try:
            self.wfile.write(b'10\r\n{"request_id": "\r\n')
            for _ in range(1 << 16):  # 4 GiB at most, should a client never hang up
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        self.close_connection = True

    def _trickle(self, status: int, data: bytes, rate: float) -> None:
        """The real answer, ``rate`` bytes per second (a server that barely sends)."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._dribble(data, rate)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


_MEDIA_ANSWERS = ("answer", "status", "html", "expired", "redirect", "lie")


def _route(method: str, path: str) -> tuple[str | None, str | None]:
    if method == "POST" and path == CREATE:
        return "create", None
    if method == "GET" and path in (API + "/tasks", API + "/tasks/"):
        return "list", None
    if path.startswith(API + "/tasks/"):
        rest = path[len(API + "/tasks/"):].rstrip("/")  # the SDK's asyncio flavour adds one
        parts = rest.split("/")
        if method == "GET" and len(parts) == 1 and parts[0]:
            return "query", parts[0]
        if method == "POST" and len(parts) == 2 and parts[1] == "cancel" and parts[0]:
            return "cancel", parts[0]
    return None, None


def _validated(body: bytes) -> dict[str, Any]:
    """The create body's fields, or the service's own 400 answer."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiFailure(400, "InvalidParameter", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiFailure(400, "InvalidParameter", "The request body must be a JSON object.")
    model = data.get("model")
    if not model:
        raise ApiFailure(400, "BadRequest.EmptyModel", 'Required parameter "model" missing.')
    if not isinstance(data.get("input"), dict):
        raise ApiFailure(400, "BadRequest.EmptyInput", 'Required parameter "input" missing.')
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise ApiFailure(400, "BadRequest.EmptyParameters",
                         'Required parameter "parameters" missing.')
    if model not in MODELS:
        raise ApiFailure(400, "InvalidParameter", "Model not exist.")
    prompt = data["input"].get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiFailure(400, "InvalidParameter", "input.prompt must not be empty.")
    size = params.get("size")
    if size not in SIZES:
        raise ApiFailure(400, "InvalidParameter", f"The size is not match: {size}")
    duration = params.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int | float) or \
            duration != int(duration) or int(duration) not in (5, 8, 10):
        raise ApiFailure(400, "InvalidParameter",
                         f"duration must be one of 5, 8, 10, got {duration}")
    if SIZES[size][0] == "1080P" and int(duration) == 10:
        raise ApiFailure(400, "InvalidParameter",
                         "1080P only supports a duration of 5 or 8 seconds.")
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                             or not 0 <= seed <= SEED_MAX):
        raise ApiFailure(400, "InvalidParameter", f"seed must be in [0, {SEED_MAX}].")
    flags = {}
    for name in ("audio", "watermark"):
        value = params.get(name, False)
        if not isinstance(value, bool):
            raise ApiFailure(400, "InvalidParameter", f"{name} must be a boolean.")
        flags[name] = value
    return {"model": model, "prompt": prompt[: MODELS[model]], "size": size,
            "duration": int(duration), "seed": seed, **flags}


def _list_time(text: str | None, name: str) -> float:
    try:
        moment = datetime.strptime(text or "", "%Y%m%d%H%M%S").replace(tzinfo=SERVER_TZ)
    except ValueError:
        raise ApiFailure(400, "InvalidParameter",
                         f"{name} must be formatted as YYYYMMDDhhmmss.") from None
    return moment.timestamp()


def _positive(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ApiFailure(400, "InvalidParameter", f"{name} must be a positive integer.")
    return value


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            return (max(0, size - length), size - 1) if length > 0 else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def _ms(epoch: float) -> int:
    return int(epoch * 1000)


def _rid() -> str:
    return str(uuid.uuid4())
