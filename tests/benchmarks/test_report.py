"""The load report: ratios to the floor (the median of each round's own ratio, and its spread), how
busy the CPUs were, the writes read against the write floor, and member add at 100,000 members
against 10, their rounds run side by side."""

from collections import Counter

from benchmarks import scenarios
from benchmarks.report import against_write_floor, aggregate, evaluate, markdown, p50_ratios, percent
from benchmarks.scenarios import RunResult

META = {
    "users": 100_000,
    "date": "2026-11-29 12:00 UTC",
    "machine": "2 cores",
    "load_1min": {"before": 1.0, "median_during": 2.0, "max_during": 3.0},
    "commit": "abc1234",
    "command": "python benchmarks/run.py",
    "base_url": "http://127.0.0.1:8001/scim/v2",
    "server": "gunicorn",
    "bulk": True,
    "concurrency": 4,
    "duration": 10,
    "warmup": 1,
    "rounds": 3,
    "floor": True,
    "groups": {},
}


class Client:
    def close(self) -> None:
        pass


def run(
    name: str, ok: int, seconds: float = 10.0, busy: float | None = None, p50: float = 0.005
) -> RunResult:
    latencies = {name: [p50 - 0.001, p50, p50 + 0.001]}
    return RunResult(name, 4, seconds, ok=ok, latencies=latencies, errors=Counter(), busy=busy)


def test_ratio_is_the_median_of_each_round_against_its_own_floor():
    # Round by round: 600/1000, 500/700, 900/1000. The medians of the columns (600 and 1000)
    # would give 0.60; each round against the floor run beside it gives 0.71 in the middle.
    rounds = [run("put_user", 6000), run("put_user", 5000), run("put_user", 9000)]
    floors = [run("floor", 10000), run("floor", 7000), run("floor", 10000)]
    row = aggregate("put_user", rounds, floors)
    assert row["ratio"] == 0.714
    assert row["ratio_range"] == [0.6, 0.9]


def test_the_report_shows_how_far_rounds_stray_and_judges_the_median():
    rounds = [run("patch_user", n, busy=b) for n, b in ((5800, 0.8), (6600, 0.78), (7700, 0.9))]
    floors = [run("floor", 10000, busy=0.96)] * 3
    results = {"patch_user": aggregate("patch_user", rounds, floors)}
    checks = evaluate(results, seeding=[], group_sizes={})
    assert checks == [
        {
            "target": "PATCH of a user throughput ≥ 0.6 × floor",
            "scenario": "patch_user",
            "measured": "0.66 × floor (660 req/s; rounds 0.58–0.77)",
            "met": True,
        }
    ]
    report = markdown(META, [], results, checks)
    assert "| patch_user | 660.0 | 1,000.0 | 0.66 | 0.58–0.77 | 80% (96%) | 5.0 | 6.0 | 6.0 | 0 |" in report
    assert (
        "| PATCH of a user throughput ≥ 0.6 × floor | 0.66 × floor (660 req/s; rounds 0.58–0.77) | yes |"
        in report
    )


def test_one_round_has_no_spread():
    row = aggregate("get", [run("get", 9000)], [run("floor", 10000)])
    checks = evaluate({"get": row}, seeding=[], group_sizes={})
    assert checks[0]["measured"] == "0.90 × floor (900 req/s)"
    assert checks[0]["met"] is True


def test_how_busy_the_cpus_were_is_read_off_the_machine_while_recording(monkeypatch):
    # (working, all) ticks: 30 of 100 before the round starts, 110 of 200 when it ends.
    readings = iter([(30, 100), (110, 200)])
    monkeypatch.setattr(scenarios, "_cpu_times", lambda: next(readings))
    result = scenarios.run_load(
        "get",
        lambda w: lambda client, rng: [("get", 0.001, None)],
        new_client=Client,
        concurrency=2,
        duration=0.05,
        warmup=0.01,
    )
    assert result.busy == 0.8
    assert result.summary()["cpu_busy"] == 0.8
    assert percent(None) == "–"


def test_writes_are_also_read_against_the_write_floor():
    floors = [run("floor", 10000)]
    results = {
        "write_floor": aggregate("write_floor", [run("write_floor", 8000)], floors),
        "patch_user": aggregate("patch_user", [run("patch_user", 5200)], floors),
        "put_user": aggregate("put_user", [run("put_user", 6000)], floors),
        "get": aggregate("get", [run("get", 10500)], floors),
    }
    assert against_write_floor(results) == {"patch_user": 0.65, "put_user": 0.75}
    assert against_write_floor({"patch_user": results["patch_user"]}) == {}
    report = markdown(META, [], results, [])
    assert "Against the write floor (one bare durable UPDATE): patch_user 0.65 ×, put_user 0.75 ×." in report


def test_member_add_is_judged_round_by_round_against_the_small_group_beside_it():
    # The machine slowed down in round 3 for both: 12 ms beside 8, 18 beside 16, 30 beside 24.
    # The medians of the columns (18 against 16 ms) would give 1.12; round by round 1.5, 1.12, 1.25.
    small = [run("add", 300, p50=p) for p in (0.008, 0.016, 0.024)]
    large = [run("add", 300, p50=p) for p in (0.012, 0.018, 0.030)]
    floors = [run("floor", 10000)] * 3
    results = {
        "group_add_10": aggregate("group_add_10", small, floors),
        "group_add_100000": aggregate("group_add_100000", large, floors),
    }
    assert p50_ratios(results["group_add_100000"], results["group_add_10"]) == [1.5, 1.125, 1.25]
    [check] = evaluate(results, seeding=[], group_sizes={10: 10, 100_000: 100_000})
    assert check["measured"] == "1.25 × (18.0 ms at 100,000 members vs 16.0 ms at 10; rounds 1.12–1.50)"
    assert check["met"] is True
    assert (
        "3 rounds, each scenario round right after a floor round; the group scenarios' rounds take turns;"
        in (markdown(META, [], results, [check]))
    )
    assert "take turns" not in markdown(META, [], {"group_add_10": results["group_add_10"]}, [])
