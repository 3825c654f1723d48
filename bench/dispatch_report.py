"""bench/dispatch.py's report: the per-round table, the in-process figures and the summary
against the throughput target."""

from __future__ import annotations

import os
import statistics
import time

from bench import measure

TARGET_RPS = 6000.0


def us(seconds: float, count: int) -> str:
    return f"{seconds / max(count, 1) * 1e6:.0f}"


def report(args, seeded, dispatches, noops, local, machine) -> bool:
    """Print the tables and the summary; True when the throughput target was met."""
    print(f"\n{args.reminders:,} reminders ({seeded['courses']:,} courses x email + SMS, all "
          f"consented, daytime zones, due dates '{args.due_dates}') per round; batch size "
          f"{args.batch_size}; one worker `celery -A netcare worker --concurrency "
          f"{args.concurrency} --pool prefork` ({args.concurrency} pool processes) on a private "
          f"redis-server; recording backends; {args.rounds} round(s), alternating which goes first")  # fmt: skip
    head = (f"{'round':<6}{'run':<10}{'units':>8}{'wall s':>8}{'per s':>8}{'p50 ms':>8}"
            f"{'p99 ms':>8}{'dup':>5}{'claims':>7}{'tasks':>7}  CPU µs/unit worker + PostgreSQL; statuses")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in range(args.rounds):
        n, d = noops[r], dispatches[r]
        print(f"{r + 1:<6}{'no-op':<10}{args.noop_tasks:>8,}{n['wall']:>8.2f}{n['tps']:>8.0f}"
              f"{'':>8}{'':>8}{'':>5}{'':>7}{args.noop_tasks:>7,}  {us(n['app_cpu'], args.noop_tasks)} + "
              f"{us(n['db_cpu'], args.noop_tasks)}")  # fmt: skip
        lat = d["latencies"]
        tasks = "-" if d["enqueued_batches"] is None else f"{1 + d['enqueued_batches']}"
        print(f"{r + 1:<6}{'dispatch':<10}{d['sent']:>8,}{d['wall']:>8.2f}{d['rps']:>8.0f}"
              f"{measure.percentile(lat, 50) * 1000:>8.0f}{measure.percentile(lat, 99) * 1000:>8.0f}"
              f"{d['duplicates']:>5}{d['claims']:>7}{tasks:>7}  {us(d['app_cpu'], d['sent'])} + "
              f"{us(d['db_cpu'], d['sent'])}; {dict(sorted(d['statuses'].items()))}")  # fmt: skip
    print("(units: no-op tasks or reminders sent; wall: dispatch from enqueueing alerts.dispatch "
          "to no pending/sending row, no-op from add_consumer to an empty queue and no unacked "
          "message; p50/p99: enqueue -> accepted by the recording backend, per reminder; dup: "
          "recorded messages - distinct reminder ids; claims: distinct dispatch_batch claims "
          "that sent; tasks: alerts.dispatch + the dispatch_batch tasks it enqueued; CPU: the "
          "worker's process group and the database's PostgreSQL backends, from /proc)")  # fmt: skip
    stamped = sorted(x for d in dispatches for x in d["stamped"])
    print(f"reminder.sent_at - enqueue: p50 {measure.percentile(stamped, 50) * 1000:.0f} ms, "
          f"p99 {measure.percentile(stamped, 99) * 1000:.0f} ms - sent_at is the start of the "
          f"batch's task, not the send: tasks.dispatch_batch passes its start time as `now`, "
          f"which the service uses as a fixed clock")  # fmt: skip

    cpu_local = (local["app_cpu"] + local["db_cpu"]) / max(local["sent"], 1)
    print(f"\nin this process, dispatch_batch x {local['batches']} (batch size {args.batch_size}, "
          f"same backends, no Celery): {local['sent']:,} sent in {local['wall']:.2f} s = "
          f"{local['sent'] / local['wall']:.0f} reminders/s in one process; CPU per reminder "
          f"Python {us(local['app_cpu'], local['sent'])} µs + PostgreSQL "
          f"{us(local['db_cpu'], local['sent'])} µs, so {os.cpu_count()} CPUs doing nothing "
          f"else could send at most {os.cpu_count() / cpu_local:.0f} reminders/s")  # fmt: skip

    rps_med = statistics.median(d["rps"] for d in dispatches)
    tps_med = statistics.median(n["tps"] for n in noops)
    dups = sum(d["duplicates"] for d in dispatches)
    all_sent = all(d["statuses"] == {"sent": args.reminders} for d in dispatches)
    exact = all(d["recorded"] == args.reminders for d in dispatches)
    lat_all = sorted(x for d in dispatches for x in d["latencies"])
    worker_cpu = statistics.median(
        (d["app_cpu"] + d["db_cpu"]) / max(d["sent"], 1) for d in dispatches
    )
    noop_cpu = statistics.median((n["app_cpu"] + n["db_cpu"]) / args.noop_tasks for n in noops)
    met = rps_med >= TARGET_RPS

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print("\n==== SUMMARY bench/dispatch.py " + "=" * 47)
    print(f"dispatch: {rps_med:.0f} reminders/s (median of {args.rounds}: "
          f"{', '.join(format(d['rps'], '.0f') for d in dispatches)}), batch size "
          f"{args.batch_size}, two worker processes (one prefork worker, concurrency "
          f"{args.concurrency}); CPU {worker_cpu * 1e6:.0f} µs per reminder (worker + PostgreSQL)")  # fmt: skip
    print(f"no-op Celery tasks: {tps_med:.0f} tasks/s (median: "
          f"{', '.join(format(n['tps'], '.0f') for n in noops)}) through the same broker and "
          f"worker; CPU {noop_cpu * 1e6:.0f} µs per task")  # fmt: skip
    print(f"ratio reminders/s ÷ no-op tasks/s: {rps_med / tps_med:.2f} (> 1 expected: one task "
          f"carries a batch of up to {args.batch_size} reminders)")  # fmt: skip
    print(f"enqueue -> sent latency over all rounds: p50 {measure.percentile(lat_all, 50) * 1000:.0f} ms, "
          f"p99 {measure.percentile(lat_all, 99) * 1000:.0f} ms (the whole backlog is enqueued at "
          f"once, so these follow the wall time)")  # fmt: skip
    print(
        f"[{verdict(met)}] ≥ {TARGET_RPS:.0f} reminders/s with two worker processes: {rps_med:.0f}"
    )
    print(f"[{verdict(dups == 0)}] duplicates (COUNT(*) - COUNT(DISTINCT reminder_id)): {dups}")
    print(f"[{verdict(all_sent and exact)}] every reminder sent once in every round "
          f"(statuses all 'sent', recorded = {args.reminders:,})")  # fmt: skip
    busy, load_start, started = machine
    print(f"machine: {os.cpu_count()} CPUs shared by the worker, PostgreSQL, Redis and this "
          f"script; {busy:.0%} busy in the second before the rounds (other work); load average "
          f"{load_start:.2f} at start, {os.getloadavg()[0]:.2f} at the end; wall time "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    return met
