"""Conformance corpora: what the real systems profbot talks to answer, rebuilt from their own
sources and test data, each fixture with a note of where it comes from (repository, file, test).

profbot's own stand-ins answer the way its authors read the real thing; these answers are the real
thing's shapes and sizes, so a test on them fails when profbot reads or shows them wrongly: frame
names as real profilers write them, every unit a server uses, thousands of frames, formats profbot
must refuse. One subfolder a system:

- ``pyroscope/``: ``/pyroscope/render`` answers (flamebearers, single and diff) of Pyroscope v1,
  run through the runner's reader, the flamegraph picture and the summaries people read. Its
  ``rebuild.py`` rebuilds the fixtures from a clone of grafana/pyroscope.
"""
