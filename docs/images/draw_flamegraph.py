"""Draws docs/images/flamegraph.png, the picture on the README and the docs' home page.

It is profbot's own bot/pictures:drawing, of a profile shaped like one Pyroscope returns for a
py-spy-profiled inference service: a web server's request path, a model's forward pass, image
decoding, JSON encoding and the garbage collector, in the folded-stack form py-spy writes
("frame;frame;frame samples", each frame named as py-spy names it: ``func (file.py:line)``),
encoded to a flamebearer as Pyroscope's render API answers it.
Run it `make docs-pictures`:again when the drawing changes; the PNG is committed.
"""

from __future__ import annotations

from pathlib import Path

from bot.pictures import flamegraph_png
from profbot.ops.pyroscope import CPU_PROFILE_TYPE, FlameProfile
from tests.standins.flamebearer import encode, parse_folded

OUT = Path(__file__).with_name("flamegraph.png")
END = 1_764_090_000.0  # a fixed window, so the picture changes only when the drawing does

SERVE = "ai_service/main.py:<module>;uvicorn/main.py:run;asyncio/runners.py:run"
LOOP = SERVE + ";asyncio/base_events.py:run_until_complete;asyncio/base_events.py:_run_once"
REQUEST = LOOP + ";asyncio/events.py:_run;uvicorn/protocols/http/httptools_impl.py:run_asgi"
APP = REQUEST + ";fastapi/applications.py:__call__;starlette/routing.py:handle"
DETECT = APP + ";ai_service/routes.py:detect"
INFER = DETECT + ";ai_service/model.py:infer;torch/nn/modules/module.py:forward"
BACKBONE = INFER + ";ultralytics/nn/tasks.py:forward;ultralytics/nn/tasks.py:_predict_once"

STACKS = f"""
{BACKBONE};ultralytics/nn/modules/conv.py:forward;torch/nn/modules/conv.py:_conv_forward 2210
{BACKBONE};ultralytics/nn/modules/block.py:forward;ultralytics/nn/modules/conv.py:forward 1180
{BACKBONE};ultralytics/nn/modules/block.py:forward;torch/functional.py:cat 240
{BACKBONE};ultralytics/nn/modules/head.py:forward;ultralytics/nn/modules/head.py:_inference 610
{BACKBONE};ultralytics/nn/modules/head.py:forward;ultralytics/utils/tal.py:dist2bbox 170
{INFER};ultralytics/utils/ops.py:non_max_suppression;torchvision/ops/boxes.py:nms 390
{INFER};ultralytics/utils/ops.py:non_max_suppression;ultralytics/utils/ops.py:xywh2xyxy 90
{DETECT};ai_service/images.py:preprocess;ai_service/images.py:decode;PIL/Image.py:open 120
{DETECT};ai_service/images.py:preprocess;ai_service/images.py:decode;PIL/ImageFile.py:load 540
{DETECT};ai_service/images.py:preprocess;ai_service/images.py:letterbox;cv2:resize 460
{DETECT};ai_service/images.py:preprocess;ai_service/images.py:to_tensor;torch:from_numpy 150
{DETECT};ai_service/routes.py:render;fastapi/routing.py:serialize_response;json/__init__.py:dumps 330
{DETECT};ai_service/routes.py:render;fastapi/encoders.py:jsonable_encoder 280
{APP};starlette/middleware/errors.py:__call__;prometheus_client/asgi.py:__call__ 60
{REQUEST};uvicorn/protocols/http/httptools_impl.py:on_body;uvicorn/protocols/http/httptools_impl.py:receive 80
{LOOP};selectors.py:select 420
{SERVE};gc:collect 190
ai_service/main.py:<module>;ai_service/profiling.py:start_profiler;pyroscope/__init__.py:flush 45
"""


def py_spy(stacks: str) -> str:
    """``file.py:func`` frames named as py-spy writes them, ``func (file.py:line)``: the line is
    made up but stable, as a real profile's are for one build."""

    def frame(name: str) -> str:
        where, _, func = name.rpartition(":")
        line = 1 + sum(name.encode()) % 400
        return f"{func} ({where}:{line})" if where.endswith(".py") else f"{func} ({where})"

    return "\n".join(
        ";".join(frame(f) for f in stack.split(";")) + f" {samples}"
        for stack, _, samples in (row.rpartition(" ") for row in stacks.strip().splitlines())
    )


def profile() -> FlameProfile:
    bearer = encode(parse_folded(py_spy(STACKS)))
    return FlameProfile(
        service="ai-yolo26", profile_type=CPU_PROFILE_TYPE, start=END - 900, end=END, num_ticks=bearer["numTicks"],
        max_self=bearer["maxSelf"], names=bearer["names"], levels=bearer["levels"],
        ui_url="http://pyroscope:4040/",
    )  # fmt: skip


def main() -> None:
    OUT.write_bytes(flamegraph_png(profile(), width_px=1600))
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
