"""The original exporter's approach, for the export benchmark (host/benches/export.rs).

Reproduces functions/exporter of the original project (seed-original.md section 7) on the
rows the Rust exporter reads: per date, every stored item of the date in memory, grouped by
region, each row normalised by `normalize_event_for_dataframe` (strings, '' for absent
values, the derived columns parsed out of the JSON payloads), a pandas DataFrame with
`category` columns when distinct/rows < 0.5, `pa.Table.from_pandas` and `pq.write_table`
with snappy, 10,000-row row groups, dictionaries and statistics.

Usage: export_original.py DUMP_DIR OUT_DIR. DUMP_DIR holds one JSON Lines file per date
(`YYYY-MM-DD.jsonl`, the store's items); reading a date's file is not timed, the rest is.
Prints one JSON line: {"rows", "files", "bytes", "seconds"}.
"""
import json
import os
import sys
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def normalize_event_for_dataframe(item):
    raw = json.loads(item.get("raw") or "{}")
    req = raw.get("requestParameters")
    resp = raw.get("responseElements")
    req_s = json.dumps(req) if req is not None else ""
    resp_s = json.dumps(resp) if resp is not None else ""
    try:
        rp = json.loads(req_s) if req_s else {}
        rp = rp if isinstance(rp, dict) else {}
    except ValueError:
        rp = {}
    try:
        re_ = json.loads(resp_s) if resp_s else {}
        re_ = re_ if isinstance(re_, dict) else {}
    except ValueError:
        re_ = {}
    error_code = item.get("error_code")
    return {
        "event_id": item.get("event_id", ""),
        "event_date": item.get("event_date", ""),
        "event_time": item.get("event_time", ""),
        "event_name": item.get("event_name", ""),
        "event_source": item.get("event_source", ""),
        "event_type": item.get("event_type", ""),
        "aws_region": item.get("aws_region") or "",
        "user_name": item.get("user_name") or "",
        "source_ip": item.get("source_ip") or "",
        "user_agent": item.get("user_agent") or "",
        "error_code": error_code,
        "error_message": item.get("error_message"),
        "request_parameters": req_s,
        "response_elements": resp_s,
        "role_arn": rp.get("roleArn", ""),
        "role_session_name": rp.get("roleSessionName", ""),
        "policy_arn": rp.get("policyArn", ""),
        "user_name_param": rp.get("userName", ""),
        "group_name": rp.get("groupName", ""),
        "assumed_role_user": json.dumps(re_.get("assumedRoleUser") or {}),
        "credentials_expiration": (re_.get("credentials") or {}).get("expiration", ""),
        "is_error": error_code is not None and error_code != "",
    }


def optimize(df):
    for col in ["event_name", "event_source", "aws_region", "error_code", "user_name"]:
        if col in df.columns and len(df) > 0 and df[col].nunique() / len(df) < 0.5:
            df[col] = df[col].astype("category")
    return df


def main():
    dump, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rows = files = size = 0
    seconds = 0.0
    for name in sorted(os.listdir(dump)):
        if not name.endswith(".jsonl"):
            continue
        date = name[: -len(".jsonl")]
        with open(os.path.join(dump, name)) as f:
            items = [json.loads(line) for line in f]
        t = time.perf_counter()
        groups = {}
        for item in items:
            groups.setdefault(item.get("aws_region") or "unknown", []).append(normalize_event_for_dataframe(item))
        for region, group in groups.items():
            df = optimize(pd.DataFrame(group))
            table = pa.Table.from_pandas(df)
            y, m, d = date.split("-")
            path = os.path.join(out, f"year={y}", f"month={int(m)}", f"day={int(d)}", f"region={region}")
            os.makedirs(path, exist_ok=True)
            target = os.path.join(path, f"events_{date}_000000.parquet")
            pq.write_table(table, target, compression="snappy", row_group_size=10000,
                           use_dictionary=True, write_statistics=True)
            rows += len(group)
            files += 1
            size += os.path.getsize(target)
        seconds += time.perf_counter() - t
        del items, groups
    print(json.dumps({"rows": rows, "files": files, "bytes": size, "seconds": seconds}))


if __name__ == "__main__":
    main()
