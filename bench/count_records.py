#!/usr/bin/env python3
"""Counts the records one client run wrote, for the real-world part of bench/run.sh.

    python3 bench/count_records.py json|curl OUTPUT

json: fetcher-stream's JSON lines (and bench/aiohttp_ref.py's, shaped the same):
a record is a line whose "type" is "success" or "failure"; ok is a success
with status 200; a failure is a record whose "type" is "failure" (a transport
problem); the kind of a failure is its "error_kind".
curl: the `-w '%{http_code} %{http_version} … %{exitcode} %{url_effective}'`
lines of curl --parallel: every line is a record, ok is status 200, a failure
is status 000 (no response), of kind `exit-N` (curl's exit code).

Prints one line "RECORDS OK FAILURES PROTO ERRORS": PROTO the most common
protocol (`HTTP/2`, `HTTP/1.1`, or `-`), ERRORS the records that were not ok by
kind (`dns:3,timeout:1`, statuses as their number), or `-`.
"""

import json
import sys
from collections import Counter


def main():
    kind, path = sys.argv[1], sys.argv[2]
    records = ok = failures = 0
    protos, errors = Counter(), Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            # A line cut off when a run was stopped by its time limit is no record.
            if not line.endswith("\n"):
                continue
            if kind == "json":
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                t = r.get("type")
                if t not in ("success", "failure"):
                    continue
                records += 1
                if t == "failure":
                    failures += 1
                    errors[r.get("error_kind", "?")] += 1
                elif r.get("status") == 200:
                    ok += 1
                    protos[r.get("http_version", "-")] += 1
                else:
                    errors[str(r.get("status"))] += 1
            else:
                parts = line.split()
                if not parts:
                    continue
                records += 1
                if parts[0] == "200":
                    ok += 1
                    v = parts[1] if len(parts) > 1 else "-"
                    protos["HTTP/" + v if v[:1].isdigit() else v] += 1
                elif parts[0] == "000":
                    failures += 1
                    errors["exit-" + (parts[4] if len(parts) > 4 else "?")] += 1
                else:
                    errors[parts[0]] += 1
    proto = protos.most_common(1)[0][0] if protos else "-"
    errs = ",".join(f"{k}:{v}" for k, v in errors.most_common()) or "-"
    print(records, ok, failures, proto, errs)


if __name__ == "__main__":
    main()
