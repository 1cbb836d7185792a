"""Which scenarios the harness runs, and in what order."""

from benchmarks.harness import parse_args
from benchmarks.scenarios import in_turns


def test_the_group_scenarios_take_turns_round_by_round_where_the_first_of_them_was_asked():
    names = ["lookup", "group_add_10", "patch_user", "group_add_100000", "mixed"]
    assert in_turns(names) == [
        ["lookup"],
        ["group_add_10", "group_add_100000"],
        ["patch_user"],
        ["mixed"],
    ]
    assert in_turns(["group_add_1000"]) == [["group_add_1000"]]
    assert in_turns(["get", "put_user"]) == [["get"], ["put_user"]]


def test_a_scenario_named_twice_runs_once():
    args = parse_args(
        ["--base-url", "http://127.0.0.1:8001/scim/v2", "--token", "t", "--scenarios", "get,lookup", "get"]
    )
    assert args.scenarios == ["get", "lookup"]
