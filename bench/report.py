"""Turn the JSON results of both benchmarks into the tables and the plot of bench/README.md.

python -m bench.report            # prints Markdown, writes bench/results.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def ours_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | users | enrol (users/s) | idle tick p50 / p99 (ms) | start-up to ready (s) "
        "| peak RSS (MB) | SIGTERM to exit (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(results, key=lambda r: (r["db"], r["users"])):
        if "idle_tick" not in r:
            continue
        tick, start = r["idle_tick"], r["startup"]
        lines.append(
            f"| {r['db']} | {r['users']:,} | {fmt(r['enroll_users_per_s'], 0)} "
            f"| {fmt(tick['p50_ms'], 2)} / {fmt(tick['p99_ms'], 2)} | {fmt(start['ready_s'], 2)} "
            f"| {fmt(start['peak_rss_mb'])} | {fmt(start['stop_s'], 2)} |"
        )
    return "\n".join(lines)


def dispatch_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | SMS | threads | ours, best (SMS/s) | raw client, best (SMS/s) "
        "| ratio of bests | ratio per round: median (range) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        d = r.get("dispatch")
        if d:
            ratios = d["rounds"]["ratios"]
            lines.append(
                f"| {r['db']} | {d['count']:,} | {d['concurrency']} "
                f"| {fmt(d['ours_sms_per_s'], 0)} | {fmt(d['raw_client_sms_per_s'], 0)} "
                f"| {d['ratio_of_bests']:.2f} | {d['ratio_median_of_rounds']:.2f} "
                f"({min(ratios):.2f}–{max(ratios):.2f}) |"
            )
    return "\n".join(lines)


def overhead_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | SMS | our CPU per SMS (µs) | database server CPU per SMS (µs) |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        o = r.get("overhead")
        if o:
            lines.append(
                f"| {r['db']} | {o['count']:,} | {fmt(o['ours_cpu_us_per_sms'], 0)} "
                f"| {fmt(o['database_server_cpu_us_per_sms'], 0)} |"
            )
    return "\n".join(lines)


def lateness_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | load | sent | not sent | lateness p50 (s) | p99 (s) | max (s) "
        "| drained in (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for key, label in (("steady_500_per_s", "steady 500/s"), ("burst_10k", "10k at once")):
            x = r.get(key)
            if x:
                sent = x["statuses"].get("sent", 0)
                lines.append(
                    f"| {r['db']} | {label} | {sent:,} | {x['count'] - sent:,} "
                    f"| {fmt(x['lateness_p50_s'], 2)} | {fmt(x['lateness_p99_s'], 2)} "
                    f"| {fmt(x['lateness_max_s'], 2)} | {fmt(x.get('drained_s'), 1)} |"
                )
    return "\n".join(lines)


def naive_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | jobs | add (jobs/s) | 1M adds take (min) | RSS after restart + get_jobs (MB) "
        "| burst of 10k: ran | missed | drained in (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(results, key=lambda r: (r["db"], r["reminders"])):
        add, restart, burst = r["add"], r["restart"], r["burst"]
        lines.append(
            f"| {r['db']} | {r['reminders']:,} | {fmt(add['jobs_per_second'], 0)} "
            f"| {fmt(add['extrapolated_1m_seconds'] / 60, 0)} "
            f"| {fmt(restart['peak_rss_after_get_jobs_mib'])} | {burst['executed']:,} "
            f"| {burst['missed']:,} | {fmt(burst['all_accounted_after_due_seconds'])} |"
        )
    return "\n".join(lines)


def plot(ours: list[dict[str, Any]], naive: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for db, marker in (("sqlite", "o"), ("postgresql", "s")):
        mine = sorted(
            (r for r in ours if r["db"] == db and "idle_tick" in r), key=lambda r: r["users"]
        )
        theirs = sorted((r for r in naive if r["db"] == db), key=lambda r: r["reminders"])
        if mine:
            users = [r["users"] for r in mine]
            axes[0].plot(
                users,
                [r["enroll_users_per_s"] for r in mine],
                marker,
                ls="-",
                label=f"ours, {db} (users/s)",
            )
            axes[1].plot(
                users, [r["idle_tick"]["p99_ms"] for r in mine], marker, ls="-", label=f"ours, {db}"
            )
            axes[2].plot(
                users,
                [r["startup"]["peak_rss_mb"] for r in mine],
                marker,
                ls="-",
                label=f"ours, {db}",
            )
        if theirs:
            jobs = [r["reminders"] for r in theirs]
            axes[0].plot(
                jobs,
                [r["add"]["jobs_per_second"] for r in theirs],
                marker,
                ls="--",
                label=f"naive, {db} (jobs/s)",
            )
            axes[2].plot(
                jobs,
                [r["restart"]["peak_rss_after_get_jobs_mib"] for r in theirs],
                marker,
                ls="--",
                label=f"naive, {db}",
            )
    axes[0].set(
        title="Enrolment rate (higher is better)",
        xscale="log",
        yscale="log",
        xlabel="users (ours) / jobs (naive)",
    )
    axes[1].set(title="Idle dispatch tick p99, ms (target < 5)", xscale="log", xlabel="users")
    axes[1].axhline(5, color="grey", lw=0.8, ls=":")
    axes[2].set(title="Peak RSS after start, MB (target < 200)", xscale="log", xlabel="users")
    axes[2].axhline(200, color="grey", lw=0.8, ls=":")
    for axis in axes:
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ours = load(HERE / "results")
    naive = load(HERE / "naive" / "results")
    print("## Our design\n")
    print(ours_table(ours))
    print("\n### Dispatch throughput\n")
    print(dispatch_table(ours))
    print()
    print(overhead_table(ours))
    print("\n### Lateness through the real service\n")
    print(lateness_table(ours))
    print("\n## The naive design\n")
    print(naive_table(naive))
    plot(ours, naive, HERE / "results.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
