"""An export file of made-up generations (JSON lines, as `pixverse-tui import` reads):
words and Chinese prompts, three ends, tags and favourites — the history team_bench
imports into PostgreSQL and SQLite (the same seed makes the same file)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

WORDS = ("fox", "whale", "city", "forest", "neon", "rain", "ocean", "desert", "robot", "dragon",
         "sunset", "snow", "mountain", "river", "lantern", "train", "garden", "storm")
CHINESE = ("一只小猫在月光下奔跑", "夜晚的城市霓虹灯", "山间的瀑布与薄雾", "海边的日落",
           "古老的寺庙")
SIZES = ("640*360", "1024*576", "1280*720", "720*1280", "1920*1080", "1808*1808")



def write_history(rows: int, path: Path) -> None:
    rng = random.Random(7)
    start = time.time() - rows * 60
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i * 60))
            prompt = (rng.choice(CHINESE) if i % 7 == 0 else
                      " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))))
            status = rng.choices(("SUCCEEDED", "FAILED", "CANCELED"), (90, 8, 2))[0]
            size = rng.choice(SIZES)
            out.write(json.dumps({
                "created_at": when + ".000+00:00", "updated_at": when + ".000+00:00",
                "prompt": f"{prompt} #{i}", "size": size, "duration": rng.choice((5, 8)),
                "audio": rng.random() < 0.3, "task_id": f"bench-{i:08d}", "status": status,
                "submission": "accepted", "endpoint": "https://dashscope.aliyuncs.com/api/v1",
                "model": "pixverse/pixverse-v5.6-t2v",
                "submit_time": when + ".000+00:00", "scheduled_time": when + ".500+00:00",
                "end_time": when[:-2] + "59.000+00:00",
                "usage_size": size if status == "SUCCEEDED" else None,
                "usage_duration": 5.0 if status == "SUCCEEDED" else None,
                "error_code": "InternalError" if status == "FAILED" else None,
                "favourite": i % 50 == 0, "tags": ["keep"] if i % 100 == 0 else [],
            }, ensure_ascii=False) + "\n")
