"""The executor interface without Ray: resources, configuration, the serial executor, Ray missing."""

from __future__ import annotations

import sys
from unittest import mock

import pytest
import torch

from quanos_hw.errors import InputError
from quanos_hw.executor import ExecutorConfig, Trial, TrialResources, make_executor
from quanos_hw.executor.ray_executor import check_resources, probe_address


def _threads_and(shared, value):
    return {"threads": torch.get_num_threads(), "value": value, "shared": shared}


@pytest.mark.parametrize("text, expected", [("cpu=2", TrialResources(2, 0.0)), ("gpu=1", TrialResources(None, 1.0)),
                                            ("cpu=1,gpu=0.5", TrialResources(1, 0.5)), ("", TrialResources())])
def test_trial_resources_parse(text, expected):
    assert TrialResources.parse(text) == expected


@pytest.mark.parametrize("text, message", [
    ("cpus=2", "--trial-resources takes cpu=N,gpu=M, got 'cpus=2'"),
    ("cpu=0", "--trial-resources cpu must be a positive integer, got 0"),
    ("cpu=1.5", "--trial-resources cpu must be a number, got '1.5'"),
    ("gpu=-1", "--trial-resources gpu must be a number between 0 and 1024, got -1.0"),
    ("cpu=1,cpu=2", "--trial-resources gives cpu twice"),
])
def test_trial_resources_refused(text, message):
    with pytest.raises(InputError, match=__import__("re").escape(message)):
        TrialResources.parse(text)


def test_unknown_executor_and_address_without_ray():
    with pytest.raises(InputError, match="unknown executor 'dask'; choose one of: ray, serial"):
        ExecutorConfig(name="dask")
    with pytest.raises(InputError, match="apply to --executor ray"):
        ExecutorConfig(address="127.0.0.1:6379")


def test_serial_runs_in_order_with_the_trials_threads_and_restores_them():
    before = torch.get_num_threads()
    with make_executor(ExecutorConfig(resources=TrialResources(cpu=1))) as ex:
        out = ex.run([Trial(f"t{i}", _threads_and, (i,)) for i in range(3)], shared="s")
    assert out == [{"threads": 1, "value": i, "shared": "s"} for i in range(3)]
    assert torch.get_num_threads() == before
    assert ex.closed and make_executor().run([]) == []


def test_ray_missing_is_one_line():
    with mock.patch.dict(sys.modules, {"ray": None}):
        with pytest.raises(InputError, match=r"--executor ray needs Ray: pip install 'quanos-hw\[distributed\]'"):
            make_executor("ray")


def test_unreachable_and_malformed_addresses_fail_fast():
    with pytest.raises(InputError, match="cannot reach the Ray cluster at '127.0.0.1:1' within 2 s"):
        probe_address("127.0.0.1:1", 2.0)
    with pytest.raises(InputError, match="--ray-address must be HOST:PORT"):
        probe_address("localhost", 2.0)


def test_resources_no_node_has():
    nodes = [{"Alive": True, "Resources": {"CPU": 2.0}}, {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 4.0}}]
    check_resources(nodes, 2, 0)
    with pytest.raises(InputError, match=r"cpu=1,gpu=1: no node of the Ray cluster has that much \(1 node\(s\); "
                                         r"the largest has 2 CPU\(s\) and 0 GPU\(s\)\)"):
        check_resources(nodes, 1, 1)
