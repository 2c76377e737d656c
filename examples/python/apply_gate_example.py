#!/usr/bin/env python3
"""posguard permit gate, from a Python Apply Layer.

Runs src/redis/lua/gate_consume.lua as is (2 keys, ARGV[1] = "{}", a JSON reply with a
`status`): it consumes the P3.2 Governor permit and the P3.3 permit of one plan -- both or
neither -- and returns the P3.3 permit JSON. While the
P3.3 permit is missing (the brain has not answered the plan yet) it retries with a
gentle backoff for up to --wait-ms. Any Redis error is a refusal: never execute then.

    python3 apply_gate_example.py --redis-url redis://127.0.0.1:6379 \
        --prefix quantum --plan PLAN_ID [--wait-ms 1200]

Prints one JSON object; exit 0 when consumed (execute with safe_close_qty), 1 when refused.
Needs the `redis` package (Debian: python3-redis; pip: redis).
"""
import argparse
import decimal
import json
import pathlib
import sys
import time

import redis

SCRIPT_PATH = pathlib.Path(__file__).resolve().parents[2] / "src" / "redis" / "lua" / "gate_consume.lua"
FIRST_BACKOFF_S = 0.002
MAX_BACKOFF_S = 0.050
ARGV = ["{}"]  # one JSON object, no fields yet


def permit_keys(prefix, plan_id):
    """The two keys, as posguard builds them (governor template is configurable there)."""
    return [f"{prefix}:permit:governor:{plan_id}", f"{prefix}:permit:p33:{plan_id}"]


def consume_permits(client, script, prefix, plan_id, wait_ms=1200):
    """Returns {"ok": True, "safe_close_qty": Decimal, "permit": dict} or {"ok": False, ...}."""
    deadline = time.monotonic() + wait_ms / 1000.0
    backoff = FIRST_BACKOFF_S
    keys = permit_keys(prefix, plan_id)
    while True:
        try:
            raw = script(keys=keys, args=ARGV)  # EVALSHA, EVAL on NOSCRIPT
            reply = json.loads(raw)
            status = reply["status"]
        except (redis.RedisError, ValueError, TypeError, KeyError) as error:
            # An error or a reply we cannot read is a refusal: never execute then.
            return {"ok": False, "code": "missing_permit_or_redis", "detail": f"redis: {error}"}
        if status == "consumed":
            # Decimals, never binary floats: safe_close_qty comes out exactly as written.
            permit = json.loads(
                reply["permit"], parse_float=decimal.Decimal, parse_int=decimal.Decimal
            )
            qty = decimal.Decimal(str(permit["safe_close_qty"]))
            return {"ok": True, "safe_close_qty": qty, "permit": permit}
        reason = reply.get("reason", "")
        if status == "missing_or_denied_p33_permit" and reason == "missing":
            remaining = deadline - time.monotonic()
            if remaining > 0:
                time.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
        result = {"ok": False, "code": status}
        if status == "missing_or_denied_p33_permit":
            result["p33_reason"] = reason
        elif status == "governor_denied":
            result["governor_reason"] = reason
        return result


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    parser.add_argument("--prefix", default="quantum")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--wait-ms", type=int, default=1200)
    args = parser.parse_args(argv)

    client = redis.Redis.from_url(args.redis_url, socket_timeout=2, socket_connect_timeout=2)
    script = client.register_script(SCRIPT_PATH.read_text())
    result = consume_permits(client, script, args.prefix, args.plan, args.wait_ms)
    out = dict(result)
    if out.get("ok"):
        out["safe_close_qty"] = str(out["safe_close_qty"])  # exact decimal text
        out["symbol"] = str(result["permit"].get("symbol"))
        del out["permit"]
    print(json.dumps(out))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
