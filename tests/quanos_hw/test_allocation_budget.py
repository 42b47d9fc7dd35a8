import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from energy_models import list_architectures
from quanos_hw import create_model, extract_layers
from quanos_hw.allocation import (
    POLICIES,
    BudgetProblem,
    InfeasibleBudget,
    budget_ilp,
    exhaustive,
    quanos_rule_bits,
    quanos_rule_for_budget,
    uniform,
)
from quanos_hw.errors import InputError

LAYERS = extract_layers(create_model("small_cnn", in_channels=1), (1, 28, 28))
NAMES = [layer.name for layer in LAYERS]
SCORES = dict(zip(NAMES, [0.27, 0.45, 0.48, 0.77, 1.32]))
SCALABLE = [a for a in list_architectures() if a != "fixed16"]


@pytest.mark.parametrize("arch", SCALABLE)
@pytest.mark.parametrize("fraction", [0.25, 0.35, 0.5])
def test_ilp_matches_exhaustive_search_and_respects_the_budget(arch, fraction):
    problem = BudgetProblem.from_fraction(LAYERS, arch, fraction, choices=(2, 4, 8, 16))
    ilp = budget_ilp(problem, SCORES)
    brute = exhaustive(problem, SCORES)
    assert ilp.solver == "milp"
    assert ilp.objective == pytest.approx(brute.objective, rel=1e-9, abs=1e-15)
    assert ilp.energy_pj <= problem.budget_pj
    assert float(problem.energy(np.array([ilp.bit_list()]))[0]) == pytest.approx(ilp.energy_pj)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 3.0), min_size=5, max_size=5), st.sampled_from(SCALABLE),
       st.floats(0.2, 0.9), st.floats(0.01, 0.3))
@example([1.1e-308, 0.0, 0.0, 0.0, 0.0], "bit_serial", 0.5, 0.1)  # a subnormal score once overflowed the scale
def test_budget_holds_and_a_larger_budget_is_never_worse(scores, arch, fraction, extra):
    s = dict(zip(NAMES, scores))
    small = BudgetProblem.from_fraction(LAYERS, arch, fraction)
    large = BudgetProblem.from_fraction(LAYERS, arch, fraction + extra)
    try:
        a = budget_ilp(small, s)
    except InfeasibleBudget:
        return
    b = budget_ilp(large, s)
    assert a.energy_pj <= small.budget_pj * (1 + 1e-12) and b.energy_pj <= large.budget_pj * (1 + 1e-12)
    assert b.objective <= a.objective + 1e-12
    g = budget_ilp(small, s, solver="greedy")  # the fallback is feasible and never beats the optimum
    assert g.energy_pj <= small.budget_pj * (1 + 1e-12) and g.objective >= a.objective - 1e-12


def test_more_sensitive_layers_get_at_least_as_many_bits_when_costs_are_equal():
    problem = BudgetProblem.from_fraction(LAYERS, "data_gated", 0.4)
    bits = budget_ilp(problem, {n: (100.0 if n == "features.1" else 1e-3) for n in NAMES}).bits
    assert bits["features.1"]["weight_bit_width"] == max(v["weight_bit_width"] for v in bits.values())


@pytest.mark.parametrize("arch", SCALABLE)
def test_quanos_rule_at_a_budget(arch):
    problem = BudgetProblem.from_fraction(LAYERS, arch, 0.35)
    a = quanos_rule_for_budget(problem, SCORES)
    assert a.energy_pj <= problem.budget_pj
    bits = a.bit_list()
    assert bits[-1] <= bits[0]  # the noisiest layer gets the fewest bits
    generous = BudgetProblem.from_fraction(LAYERS, arch, 1.0)
    assert quanos_rule_for_budget(generous, SCORES).bit_list() == [16] * 5  # lam = 0 fits


@pytest.mark.parametrize("name", POLICIES.names())
@pytest.mark.parametrize("fraction", [0.3, 0.6])
def test_every_policy_meets_the_budget_through_the_registry(name, fraction):
    problem = BudgetProblem.from_fraction(LAYERS, "bitfusion", fraction, choices=(2, 4, 8, 16))
    a = POLICIES.get(name)(problem, SCORES)
    assert a.energy_pj <= problem.budget_pj and list(a.bits) == NAMES
    assert float(problem.energy(np.array([a.bit_list()]))[0]) == pytest.approx(a.energy_pj)
    assert all(2 <= b <= 16 for b in a.bit_list())


def test_quanos_rule_at_a_budget_is_the_paper_rule_on_scaled_scores():
    """One rule: the budget policy's bits are quanos_rule_bits(lam * s) with its own scale lam,
    k_init and k_min the largest and smallest choice."""
    problem = BudgetProblem.from_fraction(LAYERS, "data_gated", 0.35, choices=(3, 4, 8, 12))
    a = quanos_rule_for_budget(problem, SCORES)
    lam = a.objective
    assert 0 < lam and a.bit_list() == quanos_rule_bits(lam * np.array(list(SCORES.values())), 12, 3).tolist()
    assert all(3 <= b <= 12 for b in a.bit_list())


def test_uniform_is_the_widest_width_that_fits():
    problem = BudgetProblem.from_fraction(LAYERS, "data_gated", 0.3, choices=(2, 4, 8, 16))
    a = uniform(problem)
    assert a.solver == "uniform" and set(a.bit_list()) == {4}  # 8 bits need about 0.5 of the 16-bit energy
    assert float(problem.energy(np.full((1, len(NAMES)), 8))[0]) > problem.budget_pj
    with pytest.raises(InfeasibleBudget, match="no uniform width"):
        uniform(BudgetProblem.from_fraction(LAYERS, "data_gated", 0.01, choices=(2, 4, 8, 16)))


def test_infeasible_and_bad_input():
    with pytest.raises(InfeasibleBudget, match="no configuration"):
        budget_ilp(BudgetProblem.from_fraction(LAYERS, "fixed16", 0.1), SCORES)
    with pytest.raises(InputError, match="energy budget must be positive"):
        BudgetProblem(tuple(LAYERS), "data_gated", 0.0)
    with pytest.raises(InputError, match="bit choices must be distinct integers"):
        BudgetProblem(tuple(LAYERS), "data_gated", 1.0, choices=(1, 8))
    problem = BudgetProblem.from_fraction(LAYERS, "data_gated", 0.5)
    with pytest.raises(InputError, match="must name exactly the layers"):
        budget_ilp(problem, {"features.0": 1.0})
    with pytest.raises(InputError, match="must be a number >= 0"):
        budget_ilp(problem, {**SCORES, "classifier": float("nan")})
    with pytest.raises(InputError, match="solver must be"):
        budget_ilp(problem, SCORES, solver="cplex")
    assert POLICIES.names() == ["budget_ilp", "quanos_rule", "uniform"]


def test_pair_table_reproduces_the_exact_energy():
    problem = BudgetProblem.from_fraction(LAYERS, "bitfusion", 0.5, choices=(2, 4, 8, 16))
    table, unpaired, src = problem.pair_table(), problem.unpaired_table(), problem.sources()
    rng = np.random.default_rng(0)
    for _ in range(10):
        idx = rng.integers(0, 4, size=len(LAYERS))
        total = sum(table[li, idx[li], idx[src[li]]] if src[li] >= 0 else unpaired[li, idx[li]]
                    for li in range(len(LAYERS)))
        exact = problem.energy(np.array(problem.choices)[idx][None, :])[0]
        assert total == pytest.approx(exact)


def _tiny_buffer_accelerator():
    """The default description with a 1 KiB activation buffer (the network input in DRAM)."""
    import dataclasses

    from energy_models.accelerator import load_accelerator

    default = load_accelerator("default")
    sram = dataclasses.replace(default.buffers[0], capacity_bytes=1024.0, area_mm2=0.01)
    return default.replace(buffers=(sram,), network_input_on_chip=False)


@pytest.mark.parametrize("arch", ["data_gated", "subword_parallel", "bitfusion", "bit_serial"])
def test_the_default_description_gives_the_same_budget_problem(arch):
    """On the 'default' accelerator (the original model at 45 nm) every table equals the plain
    estimate's, for the architectures whose energies are 45 nm ones."""
    from energy_models.accelerator import load_accelerator

    plain = BudgetProblem.from_fraction(LAYERS, arch, 0.35, choices=(2, 4, 8, 16))
    timed = BudgetProblem.from_fraction(LAYERS, arch, 0.35, choices=(2, 4, 8, 16),
                                        accelerator=load_accelerator("default"))
    assert timed.budget_pj == plain.budget_pj and timed.uniform16_pj == plain.uniform16_pj
    np.testing.assert_array_equal(timed.pair_table(), plain.pair_table())
    np.testing.assert_array_equal(timed.unpaired_table(), plain.unpaired_table())
    assert budget_ilp(timed, SCORES).bits == budget_ilp(plain, SCORES).bits


def test_a_budget_on_an_accelerator_uses_its_exact_energy():
    """A bounded buffer spills activations: the energies are estimate_accelerator's with the
    problem's MAC architecture in the PEs, and the allocation holds the budget exactly."""
    from energy_models.accelerator_estimate import estimate_accelerator
    from quanos_hw.accelerator import with_mac

    acc = _tiny_buffer_accelerator()
    problem = BudgetProblem.from_fraction(LAYERS, "bitfusion", 0.35, choices=(2, 4, 8, 16), accelerator=acc)
    bits = np.array([[16, 8, 4, 4, 8], [2, 2, 2, 2, 2]])
    expected = estimate_accelerator(LAYERS, bits, bits, accelerator=with_mac(acc, "bitfusion")).total_energy_pj
    np.testing.assert_array_equal(problem.energy(bits), expected)
    plain = BudgetProblem.from_fraction(LAYERS, "bitfusion", 0.35, choices=(2, 4, 8, 16))
    assert problem.uniform16_pj > plain.uniform16_pj  # activations cross DRAM too
    ilp, brute = budget_ilp(problem, SCORES), exhaustive(problem, SCORES)
    assert ilp.energy_pj <= problem.budget_pj and brute.energy_pj <= problem.budget_pj
    assert ilp.objective >= brute.objective - 1e-15  # the pairwise table is approximate here: never better
