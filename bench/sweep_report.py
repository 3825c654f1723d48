"""bench/sweep.py's printing: the find-due node of a plan, and the tables of one size and of
the variants.
"""

from __future__ import annotations

from bench.sweep_seed import DUE_INDEX


def find_due_node(plan: list[str]) -> list[str]:
    """The plan node reading surveillance_scheduleditem, with its subtree and conditions."""
    for k, line in enumerate(plan):
        if "surveillance_scheduleditem" in line:
            depth = len(line) - len(line.lstrip())
            node = [line.strip()]
            for follow in plan[k + 1 :]:
                indent = len(follow) - len(follow.lstrip())
                if indent <= depth:
                    break
                node.append(" " * (indent - depth - 4) + follow.strip())
            return node
    return ["(no node reads surveillance_scheduleditem)"]


def node_summary(plan: list[str]) -> str:
    """'Index Scan using scheduled_due_active on surveillance_scheduleditem' or 'Bitmap Heap
    Scan on ... <- Bitmap Index Scan on scheduled_due_active' or 'Seq Scan on ...'."""
    node = find_due_node(plan)
    heads = [node[0]] + [line for line in node[1:] if line.strip().startswith("->")]
    return " <- ".join(h.strip().removeprefix("->").strip().split("  (")[0] for h in heads)


def uses_partial_index(plan: list[str]) -> bool:
    return any(DUE_INDEX in line for line in plan) and not any(
        "Seq Scan on surveillance_scheduleditem" in line for line in plan
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def one_set(values: set[int]) -> str:
    return str(next(iter(values))) if len(values) == 1 else "/".join(map(str, sorted(values)))


def print_size(m: dict) -> None:
    med, ins = m["result"]["median"], m["result"]["inserted"]
    raw = m["result"]["runs"]
    print(f"\n--- {m['courses']:,} courses: {m['due_courses']:,} due courses ({m['due_items']:,} "
          f"active items in the window, open courses) ---")  # fmt: skip
    print(f"reminders inserted: app run 1 {one_set(ins['app1'])}, run 2 {one_set(ins['app2'])}; "
          f"floor run 1 {one_set(ins['floor1'])}, run 2 {one_set(ins['floor2'])}; "
          f"SELECT alone counts {one_set(ins['select'])}")  # fmt: skip
    print(f"rows: {m['breakdown']}; app and floor rows differ by {m['only_app']} + "
          f"{m['only_floor']} (app-only + floor-only)")  # fmt: skip
    print(f"{'':<12}{'app ms':>9}{'floor ms':>10}{'app÷floor':>11}   runs app / floor (ms)")
    for run in (1, 2):
        a, f = med[f"app{run}"], med[f"floor{run}"]
        runs = (
            " ".join(ms(x) for x in raw[f"app{run}"])
            + " / "
            + " ".join(ms(x) for x in raw[f"floor{run}"])
        )
        print(f"{'run ' + str(run):<12}{ms(a):>9}{ms(f):>10}{a / f:>11.2f}   {runs}")
    print(f"{'SELECT alone':<12}{'':>9}{ms(med['select']):>10}{'':>11}   "
          + " ".join(ms(x) for x in raw["select"]))  # fmt: skip
    p = m["probe"]
    print(f"RSS of a fresh process running the sweep (inserted {p['inserted']:,} in "
          f"{ms(p['seconds'])} ms, rolled back): {mb(p['rss_before_kb'])} before, "
          f"{mb(p['rss_after_kb'])} after, peak {mb(p['ru_maxrss_kb'])} (ru_maxrss); "
          f"this process's peak so far {mb(m['maxrss_kb'])} (ru_maxrss, seeding included)")  # fmt: skip
    print("find-due node of the app's statement (EXPLAIN ANALYZE, first run):")
    for line in find_due_node(m["plan"]):
        print(f"    {line}")


def print_variants(lines: list[dict]) -> None:
    head = (f"{'due':>6} {'partial index':<14}{'due courses':>12}{'inserted':>10}"
            f"{'app1 ms':>9}{'floor1 ms':>10}{'÷':>6}{'app2 ms':>9}{'floor2 ms':>10}{'÷':>6}"
            f"{'select ms':>10}  find-due node")  # fmt: skip
    print(head)
    print("-" * len(head))
    for v in lines:
        med, ins = v["result"]["median"], v["result"]["inserted"]
        print(f"{v['fraction'] * 100:>5.1f}% {'yes' if v['index'] else 'no (dropped)':<14}"
              f"{v['due_courses']:>12,}{one_set(ins['app1']):>10}{ms(med['app1']):>9}"
              f"{ms(med['floor1']):>10}{med['app1'] / med['floor1']:>6.2f}{ms(med['app2']):>9}"
              f"{ms(med['floor2']):>10}{med['app2'] / med['floor2']:>6.2f}"
              f"{ms(med['select']):>10}  {v['node']}")  # fmt: skip
