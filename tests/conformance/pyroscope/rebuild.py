"""Rebuild the corpus's fixtures from Pyroscope's own test data: ``python -m
tests.conformance.pyroscope.rebuild GIT_DIR`` with GIT_DIR a clone of github.com/grafana/pyroscope
(a bare one will do). Each fixture is the answer Pyroscope v1's ``/pyroscope/render`` gives for
that profile, rebuilt as its code builds it:

- the stacks of a pprof file of its test data, named as its FunctionNameTree names them
  (pprof_stacks.py);
- the flamebearer as ``pkg/model/flamegraph.go: NewFlameGraph`` encodes it (our
  tests/standins/flamebearer.py, checked against that package's Test_ExportToFlamebearer);
- the metadata as ``ExportToFlamebearer`` sets it from the profile type: units from the sample
  unit ("objects" for inuse_objects, alloc_objects, goroutine and samples; "samples" at a rate of
  1e9 for cpu), the sample type as ``name``, format "single";
- the diff as ``pkg/model/flamegraph_diff.go: NewFlamegraphDiff`` lays it out (seven values a
  frame, format "double", leftTicks and rightTicks), as ``pkg/querier/http.go: RenderDiff``
  answers it.

The JSON written is what profbot's tests read; the upstream files are read here, never copied.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conformance.pyroscope.pprof_stacks import folded
from tests.standins.flamebearer import encode_stacks

HERE = Path(__file__).parent / "fixtures"
MAX_NODES = 8192  # what profbot's runner asks render for (max-nodes), as Pyroscope's own default
GZIP_OVER = 64_000  # characters
OBJECT_TYPES = {"inuse_objects", "alloc_objects", "goroutine", "samples"}  # ExportToFlamebearer's switch

# name: (file in grafana/pyroscope, the test that reads it, pprof sample type, profile type id,
#        a multiplier for the values (pyroscope-rs's 100 Hz samples become nanoseconds on ingest), note)
SOURCES: dict[str, tuple[str, str, str, str, int, str]] = {
    "go-cpu": ("pkg/phlaredb/testdata/profile", "pkg/phlaredb/phlaredb_test.go, TestHeadFlush", "cpu",
               "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 1, "Go CPU profile (Prometheus)"),
    "go-heap-alloc-space": ("pkg/pprof/testdata/heap", "pkg/pprof/merge_test.go, Fuzz_Merge_Single", "alloc_space",
                            "memory:alloc_space:bytes:space:bytes", 1, "Go heap profile (Loki), bytes allocated"),
    "go-heap-alloc-objects": ("pkg/pprof/testdata/heap", "pkg/pprof/merge_test.go, Fuzz_Merge_Single",
                              "alloc_objects", "memory:alloc_objects:count:space:bytes", 1,
                              "Go heap profile (Loki), objects allocated"),
    "java-cpu": ("pkg/pprof/testdata/profile_java", "pkg/ingester/pyroscope/ingest_handler_test.go", "cpu",
                 "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 1, "Java CPU profile (async-profiler)"),
    "python-samples": ("pkg/pprof/testdata/profile_python", "pkg/pprof/pprof_test.go, "
                       "Test_GetProfileLanguage_python_profile", "samples",
                       "process_cpu:samples:count:cpu:nanoseconds", 1, "Python profile (pyroscope-rs), CPU samples"),
    "ruby-cpu": ("pkg/pprof/testdata/profile_ruby", "pkg/pprof/pprof_test.go, Test_GetProfileLanguage_ruby_profile",
                 "samples", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 10**7,
                 "Ruby profile (pyroscope-rs, rbspy), 100 Hz samples as v1 stores CPU: nanoseconds"),
    "rust-cpu": ("pkg/pprof/testdata/profile_rust", "pkg/pprof/pprof_test.go, Test_GetProfileLanguage_rust_profile",
                 "cpu", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 1, "Rust CPU profile (pyroscope-rs)"),
    "nodejs-wall": ("pkg/pprof/testdata/profile_nodejs", "pkg/pprof/pprof_test.go, "
                    "Test_GetProfileLanguage_nodejs_profile", "wall", "wall:wall:microseconds:wall:microseconds", 1,
                    "Node.js wall-clock profile (@pyroscope/nodejs), in microseconds"),
    "dotnet-cpu": ("pkg/og/convert/pprof/testdata/dotnet-pprof-211.pb.gz",
                   "pkg/test/integration/ingest_pprof_test.go, TestIngest", "cpu",
                   "process_cpu:cpu:nanoseconds::nanoseconds", 1, ".NET CPU profile (dotnetspy)"),
    "dotnet-alloc-size": ("pkg/og/convert/pprof/testdata/dotnet-pprof-211.pb.gz",
                          "pkg/test/integration/ingest_pprof_test.go, TestIngest", "alloc_size",
                          "process_cpu:alloc_size:bytes::nanoseconds", 1, ".NET allocations (dotnetspy), bytes"),
    "dotnet-exceptions": ("pkg/og/convert/pprof/testdata/dotnet-pprof-211.pb.gz",
                          "pkg/test/integration/ingest_pprof_test.go, TestIngest", "exception",
                          "process_cpu:exception:count::nanoseconds", 1, ".NET exceptions thrown (dotnetspy), a count"),
    "dotnet-empty-names": ("pkg/og/convert/pprof/testdata/dotnet-pprof-73.pb.gz",
                           "pkg/test/integration/ingest_pprof_test.go, TestIngest (the broken dotnet pprof)", "cpu",
                           "process_cpu:cpu:nanoseconds::nanoseconds", 1,
                           ".NET CPU profile whose functions all have id 0: read without Pyroscope's function-id "
                           "fix, every frame's name is empty"),
}  # fmt: skip


def metadata(profile_type: str) -> dict[str, Any]:
    sample_type, sample_unit = profile_type.split(":")[1:3]
    units, rate = sample_unit, 100
    if sample_type in OBJECT_TYPES:
        units = "objects"
    if sample_type == "cpu":
        units, rate = "samples", 1_000_000_000
    return {"format": "single", "spyName": "", "sampleRate": rate, "units": units, "name": sample_type}


def answer(bearer: dict[str, Any], profile_type: str) -> dict[str, Any]:
    return {
        "version": 1,
        "flamebearer": bearer,
        "metadata": metadata(profile_type),
        "timeline": {"startTime": 1764090000, "samples": [], "durationDelta": 15, "watermarks": None},
        "groups": None,
        "heatmap": None,
    }


def double(left: dict[tuple[str, ...], int], right: dict[tuple[str, ...], int]) -> dict[str, Any]:
    """The diff flamebearer of two sets of stacks, as NewFlamegraphDiff lays it out: both trees over
    the union of their frames (children by name), seven values a frame, x delta-encoded per side."""

    class Node:
        def __init__(self) -> None:
            self.children: dict[str, Node] = {}
            self.self_ticks = [0, 0]
            self.total = [0, 0]

    root = Node()
    for side, stacks in enumerate((left, right)):
        for stack, value in stacks.items():
            node = root
            node.total[side] += value
            for name in stack:
                node = node.children.setdefault(name, Node())
                node.total[side] += value
            node.self_ticks[side] += value
    names: list[str] = []
    index: dict[str, int] = {}
    levels: list[list[int]] = []
    max_self = 0
    pending: list[tuple[int, int, int, Node, str]] = [(0, 0, 0, root, "")]  # depth, x left, x right
    while pending:
        depth, xl, xr, node, name = pending.pop()
        if name not in index:
            index[name] = len(names)
            names.append(name if names else "total")
        if depth == len(levels):
            levels.append([])
        levels[depth] += [xl, node.total[0], node.self_ticks[0], xr, node.total[1], node.self_ticks[1], index[name]]
        max_self = max(max_self, *node.self_ticks)
        children = []
        cl, cr = xl + node.self_ticks[0], xr + node.self_ticks[1]
        for child_name in sorted(node.children):
            child = node.children[child_name]
            children.append((depth + 1, cl, cr, child, child_name))
            cl, cr = cl + child.total[0], cr + child.total[1]
        pending += reversed(children)
    for level in levels:
        for start in (0, 3):  # deltaEncoding(levels, 0, 7) and (levels, 3, 7)
            prev = 0
            for i in range(start, len(level), 7):
                level[i] -= prev
                prev += level[i] + level[i + 1]
    return {"names": names, "levels": levels, "numTicks": root.total[0] + root.total[1], "maxSelf": max_self}


def write(name: str, fixture: dict[str, Any]) -> None:
    """One fixture, as JSON; gzipped when it is large (what a big profile's answer is)."""
    text = json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n"
    for old in HERE.glob(f"{name}.json*"):
        old.unlink()
    if len(text) > GZIP_OVER:
        (HERE / f"{name}.json.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        (HERE / f"{name}.json").write_text(text)


def main(git_dir: str) -> None:
    def show(path: str) -> bytes:
        return subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{path}"], capture_output=True,
                              check=True).stdout  # fmt: skip

    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    HERE.mkdir(exist_ok=True)
    for name, (path, test, sample_type, profile_type, scale, note) in SOURCES.items():
        stacks = {stack: value * scale for stack, value in folded(show(path), sample_type).items()}
        source = {"repository": "grafana/pyroscope", "commit": commit, "file": path, "test": test,
                  "sample_type": sample_type, "note": note}  # fmt: skip
        bearer = encode_stacks(stacks, max_nodes=MAX_NODES)
        fixture = {"source": source, "query": profile_type, "answer": answer(bearer, profile_type)}
        write(name, fixture)
    # Pyroscope's own golden answer: Test_ExportToFlamebearer's three stacks, in bytes.
    golden = {("a", "b", "e"): 1, ("a", "c"): 2, ("a", "c", "d"): 1}
    source = {"repository": "grafana/pyroscope", "commit": commit, "file": "pkg/model/flamegraph_test.go",
              "test": "Test_ExportToFlamebearer", "note": "its expected FlamebearerProfile, as /pyroscope/render "
              "answers it"}  # fmt: skip
    golden_type = "memory:inuse_space:bytes:space:bytes"
    fixture = {"source": source, "query": golden_type, "answer": answer(encode_stacks(golden), golden_type)}
    write("golden-inuse-space", fixture)
    # The diff: the Ruby profile's first half of samples against its second, as /pyroscope/render-diff.
    ruby = folded(show("pkg/pprof/testdata/profile_ruby"), "samples")
    ordered = sorted(ruby.items())
    left, right = dict(ordered[::2]), dict(ordered[1::2])
    bearer = double(left, right)
    diff = answer(bearer, "process_cpu:samples:count:cpu:nanoseconds")
    diff["metadata"]["format"] = "double"
    diff["leftTicks"], diff["rightTicks"] = sum(left.values()), sum(right.values())
    source = {"repository": "grafana/pyroscope", "commit": commit, "file": "pkg/pprof/testdata/profile_ruby",
              "test": "pkg/model/flamegraph_diff.go, NewFlamegraphDiff (layout); pkg/querier/http.go, RenderDiff",
              "note": "a diff of the Ruby profile's stacks, alternate ones left and right"}  # fmt: skip
    fixture = {"source": source, "query": "process_cpu:samples:count:cpu:nanoseconds", "answer": diff}
    write("ruby-diff-double", fixture)


if __name__ == "__main__":
    main(sys.argv[1])
