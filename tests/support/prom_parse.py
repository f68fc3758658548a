#!/usr/bin/python3
"""Parses a Prometheus text exposition (0.0.4) with prometheus_client's own
parser (Debian's python3-prometheus-client) and prints it as JSON, for the
tests of GET /metrics: {"families": [{"name", "type", "help", "samples":
[{"name", "labels", "value"}]}]}. Non-finite values are written as the
strings "NaN", "+Inf", "-Inf" (JSON has no such numbers).

Usage: prom_parse.py FILE   (or - for stdin). Exit 1 with the parser's
error when the text does not parse.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def value(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "-"
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    try:
        families = [
            {
                "name": f.name,
                "type": f.type,
                "help": f.documentation,
                "samples": [
                    {"name": s.name, "labels": dict(s.labels), "value": value(s.value)}
                    for s in f.samples
                ],
            }
            for f in text_string_to_metric_families(text)
        ]
    except Exception as e:  # the parser raises ValueError and others
        print(f"prometheus_client could not parse it: {e!r}", file=sys.stderr)
        return 1
    json.dump({"families": families}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
