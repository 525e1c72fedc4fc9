#!/usr/bin/env python3
"""The Python side of the comparison: an aio-pika consume -> publish-with-confirm -> ack passthrough.

It mirrors the ceiling run of benches/worker_load.rs (`passthrough`) on the same broker: the
worker's topology under fresh names (topic exchanges for cases and outcomes, the quorum work
queue with its arguments, the parking queue; the delay tiers stay idle and are left out) plus a
quorum queue collecting the outcomes; N case events (examples/01-eyelid-margin-cornea-approved.json
with fresh ids, serialized like serde_json: compact, keys sorted) pre-loaded persistent and
confirmed; then
separate consuming and publishing connections, a task per delivery (the aiormq consumer
callback), prefetch-bounded, each publishing its body to the outcomes exchange (persistent,
mandatory, correlation id = event id), awaiting the confirm, then acking the delivery.

The clock starts when consuming starts; it stops when N outcomes have been collected, in this
process, from the collect queue. Prints one row of the docs/performance.md table: cases, cases/s,
p50/p99 ms from the start of the drain to each outcome, peak RSS (VmHWM) and CPU seconds per
1,000 cases of this process (loader and collector included, as in the Rust ceiling run).

Run it with scripts/bench-aiopika.sh (benches/worker_load.rs runs it too). Environment:
BENCH_CASES (20000), BENCH_PREFETCH (128), BENCH_AMQP_URL (amqp://guest:guest@127.0.0.1:5672/%2f),
BENCH_FORMAT (tsv: one tab-separated line instead of a table row). Needs aio-pika 10.2.1.
"""

import asyncio
import json
import os
import resource
import secrets
import signal
import sys
import time
from pathlib import Path

import aio_pika
from aio_pika import DeliveryMode, ExchangeType, Message

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "01-eyelid-margin-cornea-approved.json"

# The work queue's broker-side delivery limit with the worker's defaults (amqp.delivery_limit + 5,
# src/amqp/topology.rs). The delay tiers are left out: they stay idle in a passthrough.
BROKER_DELIVERY_LIMIT = 20 + 5


def env_or(key, default):
    try:
        return type(default)(os.environ[key])
    except (KeyError, ValueError):
        return default


def now_ms():
    return int(time.time() * 1000)


def peak_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    # Rust's f64::round: half away from zero (the index is never negative).
    return sorted_values[int((len(sorted_values) - 1) * p + 0.5)]


class Rig:
    """Names, the loader connection and its confirm-mode channel for one run."""

    def __init__(self, url):
        self.url = url
        self.prefix = f"bench{os.getpid()}py{secrets.token_hex(3)}"
        self.cases_exchange = f"{self.prefix}.cases"
        self.outcomes_exchange = f"{self.prefix}.outcomes"
        self.work_queue = f"{self.prefix}.work"
        self.parking_queue = f"{self.prefix}.dead"
        self.collect_queue = f"{self.prefix}.collect"
        self.conn = None
        self.ch = None

    async def declare(self):
        self.conn = await aio_pika.connect(self.url)
        self.ch = await self.conn.channel(publisher_confirms=True)
        quorum = {"x-queue-type": "quorum"}
        for name in (self.cases_exchange, self.outcomes_exchange):
            await self.ch.declare_exchange(name, ExchangeType.TOPIC, durable=True)
        work = await self.ch.declare_queue(
            self.work_queue,
            durable=True,
            arguments={
                **quorum,
                "x-delivery-limit": BROKER_DELIVERY_LIMIT,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.parking_queue,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        await self.ch.declare_queue(self.parking_queue, durable=True, arguments=quorum)
        await work.bind(self.cases_exchange, "case.*")
        collect = await self.ch.declare_queue(self.collect_queue, durable=True, arguments=quorum)
        await collect.bind(self.outcomes_exchange, "outcome.#")

    async def load(self, n):
        """Pre-loads n case events (the contract example with fresh ids), confirmed, 1,000 at a time."""
        case = json.loads(EXAMPLE.read_text())
        cases = await self.ch.get_exchange(self.cases_exchange, ensure=False)
        batch = []
        for i in range(n):
            case["event_id"] = f"{self.prefix}-{i:07d}"
            case["case_id"] = f"C-{i:07d}"
            body = json.dumps(case, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            message = Message(body, delivery_mode=DeliveryMode.PERSISTENT)
            batch.append(asyncio.ensure_future(cases.publish(message, "case.submitted")))
            if len(batch) == 1000:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)

    async def collect(self, n, sent):
        """Collects n outcomes; returns each one's latency (ms) from the time in `sent` for its event
        (the outcome's correlation id). Gives up after 60 s without an outcome."""
        ch = await self.conn.channel(publisher_confirms=False)
        await ch.set_qos(prefetch_count=1000)
        queue = await ch.get_queue(self.collect_queue, ensure=False)
        latencies = []
        done = asyncio.Event()

        async def on_outcome(message):
            at = now_ms()
            start = sent.get(message.correlation_id or "")
            latencies.append(float(at - start) if start is not None else 0.0)
            await message.ack()
            if len(latencies) >= n:
                done.set()

        await queue.consume(on_outcome, consumer_tag="bench")
        seen = -1
        while not done.is_set() and seen != len(latencies):
            seen = len(latencies)
            try:
                await asyncio.wait_for(done.wait(), 60)
            except asyncio.TimeoutError:
                pass
        await ch.close()
        return latencies[:n]

    async def cleanup(self):
        """Deletes every queue and exchange of the run, on a fresh connection (the loader's channel
        may be the thing that failed); a failed delete does not stop the others."""
        if self.conn is None:
            return  # never connected: nothing was declared
        if not self.conn.is_closed:
            await self.conn.close()
        names = [("queue", self.collect_queue), ("queue", self.work_queue), ("queue", self.parking_queue)]
        names += [("exchange", self.cases_exchange), ("exchange", self.outcomes_exchange)]
        left = []
        try:
            conn = await aio_pika.connect(self.url, timeout=15)
        except Exception as e:  # noqa: BLE001 - report what is left rather than mask the run's error
            conn, left = None, [f"{kind} {name} ({e!r})" for kind, name in names]
        if conn is not None:
            async with conn:
                ch = await conn.channel(publisher_confirms=False)
                for kind, name in names:
                    try:
                        if ch.is_closed:
                            ch = await conn.channel(publisher_confirms=False)
                        channel = await ch.get_underlay_channel()
                        if kind == "queue":
                            await channel.queue_delete(name, timeout=15)
                        else:
                            await channel.exchange_delete(name, timeout=15)
                    except Exception as e:  # noqa: BLE001 - keep deleting the rest
                        left.append(f"{kind} {name} ({e!r})")
        for line in left:
            print(f"cleanup: could not delete {line}", file=sys.stderr)


async def passthrough(rig, n, prefetch):
    await rig.declare()
    await rig.load(n)
    consume_conn = await aio_pika.connect(rig.url)
    publish_conn = await aio_pika.connect(rig.url)
    try:
        pub_ch = await publish_conn.channel(publisher_confirms=True)
        outcomes = await pub_ch.get_exchange(rig.outcomes_exchange, ensure=False)
        ch = await consume_conn.channel(publisher_confirms=False)
        await ch.set_qos(prefetch_count=prefetch)
        work = await ch.get_queue(rig.work_queue, ensure=False)

        taken = 0
        all_taken = asyncio.Event()
        failures = []

        # aiormq runs this callback in a task of its own per delivery; the broker keeps at most
        # `prefetch` of them in flight.
        async def on_delivery(message):
            nonlocal taken
            taken += 1
            if taken >= n:
                all_taken.set()
            try:
                corr = json.loads(message.body).get("event_id")
            except ValueError:
                corr = None
            out = Message(
                message.body,
                delivery_mode=DeliveryMode.PERSISTENT,
                correlation_id=corr if isinstance(corr, str) else "",
            )
            try:
                await outcomes.publish(out, "outcome.approved", mandatory=True)
            except Exception as e:  # noqa: BLE001 - like the Rust run: the ack follows regardless
                failures.append(e)
            await message.ack()

        await work.consume(on_delivery, consumer_tag="pt")
        start = now_ms()
        sent = {f"{rig.prefix}-{i:07d}": start for i in range(n)}
        started = time.perf_counter()
        cpu_before = cpu_seconds()
        latencies = await rig.collect(n, sent)
        elapsed = time.perf_counter() - started
        # As the Rust run awaits its pump (all n deliveries taken) before reading the figures.
        try:
            await asyncio.wait_for(all_taken.wait(), 5)
        except asyncio.TimeoutError:
            pass
        hwm, cpu = peak_rss_kib(), cpu_seconds()
        if failures:
            print(f"{len(failures)} outcome publishes failed, first: {failures[0]!r}", file=sys.stderr)
    finally:
        await asyncio.gather(consume_conn.close(), publish_conn.close(), return_exceptions=True)

    ordered = sorted(latencies)
    count = len(latencies)
    return {
        "name": f"aio-pika passthrough (Python, prefetch {prefetch})",
        "cases": count,
        "per_s": count / elapsed,
        "p50_ms": percentile(ordered, 0.5),
        "p99_ms": percentile(ordered, 0.99),
        "rss_mib": hwm / 1024.0,
        "cpu_per_1000": (cpu - cpu_before) * 1000.0 / max(count, 1),
    }


async def main():
    n = env_or("BENCH_CASES", 20_000)
    prefetch = env_or("BENCH_PREFETCH", 128)
    url = os.environ.get("BENCH_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/%2f"
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)

    rig = Rig(url)
    try:
        r = await passthrough(rig, n, prefetch)
    finally:
        await rig.cleanup()
    if os.environ.get("BENCH_FORMAT") == "tsv":
        # For benches/worker_load.rs, which puts this run in its own table.
        fields = ["name", "cases", "per_s", "p50_ms", "p99_ms", "rss_mib", "cpu_per_1000"]
        print("\t".join(["figures"] + [str(r[k]) for k in fields]))
    else:
        print(
            f"| {r['name']} | {r['cases']:,} | {r['per_s']:,.0f} | {r['p50_ms']:,.0f} | {r['p99_ms']:,.0f} "
            f"| {r['rss_mib']:.1f} | {r['cpu_per_1000']:.3f} |"
        )
    if r["cases"] == 0:
        sys.exit(f"{r['name']}: no outcomes")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted")
