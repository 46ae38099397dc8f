"""The mechanism controls of the bandit (baseline, readout only, SG replaced by noise, SG at BP's scale,
rescaled features), the measures stored at each evaluation, and the decision rules of H1-H4."""

import numpy as np
import pytest

from learning.bandit.hypotheses import decide
from learning.bandit.measures import MEASURE_SIZE, forward_outputs, policy_measures
from learning.bandit.policy import reinforce_feedback, sample_actions, softmax
from learning.bandit.train import Learner, full_config, train
from sgbp.cli import main
from theory.checks import FAIL, INCONCLUSIVE, NOT_YET, PASS

from tests.test_learning_bandit import SMALL, separable_data

SHORT = {**SMALL, "steps": 12, "eval_points": 3}


def test_the_batch_baseline_changes_the_feedback_by_exactly_the_mean():
    rng = np.random.default_rng(3)
    pi = softmax(rng.normal(size=(8, 5)))
    actions = sample_actions(pi, rng)
    rewards = rng.integers(0, 2, size=8).astype(float)
    learner = Learner.__new__(Learner)
    learner.baseline = "batch"
    with_base = reinforce_feedback(pi, actions, learner.feedback_rewards(rewards))
    without = reinforce_feedback(pi, actions, rewards)
    onehot = np.eye(5)[actions]
    # -(1/B)(R - m)(e_a - pi) = -(1/B) R (e_a - pi) + (m/B)(e_a - pi)
    np.testing.assert_allclose(with_base - without, rewards.mean() / 8 * (onehot - pi), rtol=0, atol=1e-15)
    learner.baseline = "none"
    assert learner.feedback_rewards(rewards) is rewards


def test_readout_only_leaves_the_hidden_layers_where_they_started():
    result = train({**SHORT, "method": "bp", "lr": 1e-2, "train": "readout"}, data=separable_data())
    for m in result["measures"]:
        assert all(layer["moved"] == 0.0 for layer in m["layers"])
        assert m["readout_moved"] > 0
    # with every layer trained, the hidden layers move
    full = train({**SHORT, "method": "bp", "lr": 1e-2}, data=separable_data())
    assert all(layer["moved"] > 0 for layer in full["measures"][-1]["layers"])


def _learner(config, seed=0):
    cfg = full_config(config)
    x, y, xt, _ = separable_data()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    return Learner(cfg, x.shape[1], 9, rngs[0], rngs[4]), x, y, xt


def test_sg_noise_has_the_sg_predictions_rms_per_neuron():
    """Per neuron, the noise's rms over (batch, outputs) is the SG prediction's: 32 x 4 = 128 normal draws
    give a relative SE of 1/sqrt(256) = 0.0625 on the rms; each neuron within 4 SE, and the pooled ratio
    over all 48 neurons within 4 SE (0.036)."""
    learner, x, y, _ = _learner({**SHORT, "method": "sg", "sg_noise": True})
    _, cache = learner.forward(x[:32])
    noise = learner.noise_like(cache)
    ratios = []
    for l, z in enumerate(noise):
        pred = learner.sg.predict(l, cache["layers"][l]).astype(np.float64)
        rms_pred = np.sqrt(np.mean(pred ** 2, axis=(1, 2)))
        rms_noise = np.sqrt(np.mean(z.astype(np.float64) ** 2, axis=(1, 2)))
        ratios += list(rms_noise / rms_pred)
        # noise, not the prediction: uncorrelated with it
        assert abs(np.corrcoef(z.ravel(), pred.ravel())[0, 1]) < 4 / np.sqrt(z.size)
    ratios = np.array(ratios)
    assert np.all(np.abs(ratios - 1) < 4 * 0.0625)
    assert abs(np.sqrt(np.mean(ratios ** 2)) - 1) < 4 * 0.0625 / np.sqrt(ratios.size)


def test_sg_noise_enters_the_update_and_repeats_with_the_seed():
    cfg = {**SHORT, "method": "sg", "sg_noise": True}
    a, b = train(cfg, data=separable_data()), train(cfg, data=separable_data())
    plain = train({**SHORT, "method": "sg"}, data=separable_data())
    assert a["lambda"] == b["lambda"] and a["measures"] == b["measures"]
    assert a["measures"][-1]["layers"] != plain["measures"][-1]["layers"]


def test_a_frozen_sg_stays_at_its_start_while_the_policy_learns():
    frozen, x, y, _ = _learner({**SHORT, "method": "sg", "sg_frozen": True})
    trained, _, _, _ = _learner({**SHORT, "method": "sg"})
    start = [p.copy() for p in frozen.sg.params()]
    assert all(np.array_equal(a, b) for a, b in zip(start, trained.sg.params()))  # the same start
    policy = [p.copy() for p in frozen.net.params()]
    for learner in (frozen, trained):
        rng = np.random.default_rng(1)
        for _ in range(3):
            learner.step(x[:16], y[:16], 0.2, rng)
    assert all(np.array_equal(a, b) for a, b in zip(start, frozen.sg.params()))
    assert not any(np.array_equal(a, b) for a, b in zip(start, trained.sg.params()))
    assert not any(np.array_equal(a, b) for a, b in zip(policy, frozen.net.params()))
    assert frozen.sg_loss is None and trained.sg_loss > 0


def test_matched_start_gives_the_sg_the_feedbacks_rms_on_the_first_batch():
    learner, x, y, _ = _learner({**SHORT, "method": "sg", "sg_init": "matched"})
    rng = np.random.default_rng(9)
    state = rng.bit_generator.state
    before = [learner.sg.maps[l].copy() for l in range(learner.net.n_layers)]
    factors = learner.match_sg_scale(x[:32], y[:32], 0.2, rng)
    # the same batch and draws again: the scaled predictions' rms is BP's feedback's at every layer
    rng.bit_generator.state = state
    logits, cache = learner.forward(x[:32])
    pi = softmax(logits)
    actions = sample_actions(pi, rng)
    from learning.bandit.policy import noisy_rewards
    d = reinforce_feedback(pi, actions, noisy_rewards(actions, y[:32], 0.2, rng)).astype(np.float32)
    _, deltas = learner.net.backward(cache, d, param_grads=False)
    for l in range(learner.net.n_layers):
        pred = learner.sg.predict(l, cache["layers"][l]).astype(np.float64)
        assert np.sqrt(np.mean(pred ** 2)) == pytest.approx(np.sqrt(np.mean(deltas[l].astype(np.float64) ** 2)),
                                                            rel=1e-5)
        np.testing.assert_allclose(learner.sg.maps[l], before[l] * np.float32(factors[l]), rtol=1e-6)
    # the authors' start is far larger than the feedback: every factor shrinks it
    assert max(factors) < 1


def test_feature_rms_rescales_the_last_hidden_layer():
    learner, _, _, xt = _learner({**SHORT, "method": "bp", "train": "readout", "feature_rms": 3.0})
    xm = xt[:MEASURE_SIZE]
    learner.set_feature_rms(3.0, xm)
    logits, outputs = forward_outputs(learner.net, xm)
    assert np.sqrt(np.mean((outputs[-1].astype(np.float64) * learner.feature_scale) ** 2)) == pytest.approx(3.0, rel=1e-6)
    np.testing.assert_allclose(learner.logits(xm), logits * learner.feature_scale, rtol=1e-5, atol=1e-6)


def test_policy_measures_by_hand():
    # uniform over 9 actions: entropy log 9; rows whose argmax are 0, 0, 2: modal share 2/3
    assert policy_measures(np.zeros((4, 9)))["entropy"] == pytest.approx(np.log(9))
    logits = np.array([[5.0, 0, 0], [3.0, 0, 0], [0, 0, 4.0]])
    m = policy_measures(logits)
    assert m["modal_share"] == pytest.approx(2 / 3)
    p = softmax(logits)
    assert m["entropy"] == pytest.approx(float(np.mean(-np.sum(p * np.log(p), axis=1))))


def test_measures_start_unmoved_and_do_not_change_the_training():
    result = train({**SHORT, "method": "sg"}, data=separable_data())
    first = result["measures"][0]
    assert first["step"] == 1 and len(first["layers"]) == SHORT["layers"]
    assert all(0 < layer["moved"] for layer in first["layers"])  # one Adam step already moved them
    # the measures draw nothing: the eval rewards equal those of a run that never measured
    import learning.bandit.train as train_module
    saved = train_module.measure
    try:
        train_module.measure = lambda *a, **k: {}
        unmeasured = train({**SHORT, "method": "sg"}, data=separable_data())
    finally:
        train_module.measure = saved
    assert unmeasured["eval"] == result["eval"] and unmeasured["lambda"] == result["lambda"]


@pytest.mark.parametrize("bad, message", [
    ({"baseline": "mean"}, "baseline must be 'none' or 'batch'"),
    ({"train": "hidden"}, "train must be 'all' or 'readout'"),
    ({"method": "sg", "train": "readout"}, "train 'readout' needs method 'bp'"),
    ({"method": "bp", "sg_noise": True}, "sg_noise needs method 'sg' or 'sg-fixed'"),
    ({"method": "mlp", "sg_frozen": True}, "sg_frozen needs method 'sg' or 'sg-fixed'"),
    ({"method": "bp", "train": "readout", "feature_rms": -1}, r"feature_rms must be a number > 0"),
    ({"method": "bp", "feature_rms": 2.0}, "feature_rms needs train 'readout'"),
    ({"sg_init": "large"}, "sg_init must be 'policy', 'zero' or 'matched'"),
])
def test_bad_control_is_a_one_line_error(bad, message, capsys):
    with pytest.raises(ValueError, match=message):
        full_config(bad)
    flags = []
    for k, v in bad.items():
        flags += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
    assert main(["bandit", *flags, "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sgbp: error:")


def _status(**rows):
    return {tuple(k.replace("__", "-").split("_vs_")): v for k, v in rows.items()}


def test_decision_rules_by_hand():
    # H1 supported: the baseline rescues BP at 5e-3 and BP is then not behind SG
    st = {("bp-base5e-3", "bp5e-3"): PASS, ("bp-base5e-3", "sg"): INCONCLUSIVE, ("bp-base5e-3", "bp"): PASS}
    assert decide(st)["H1"][0] == "supported"
    assert decide(st | {("bp-base5e-3", "sg"): FAIL})["H1"][0] == "partly supported"
    st = {("bp-base5e-3", "bp5e-3"): INCONCLUSIVE, ("bp-base5e-3", "bp"): FAIL}
    assert decide(st)["H1"][0] == "ruled out"
    assert decide({})["H1"][0] == "open" and decide({})["H4"][0] == "open"
    # H2 and H3 from the noise and readout rows
    st = {("noise", "sg"): INCONCLUSIVE, ("readout5e-3", "sg"): INCONCLUSIVE, ("readout1e-3", "sg"): FAIL,
          ("matched", "sg"): FAIL}
    v = decide(st)
    assert v["H2"][0] == "supported" and v["H3"][0] == "ruled out"
    v = decide({("noise", "sg"): FAIL, ("readout5e-3", "sg"): FAIL, ("readout1e-3", "sg"): FAIL})
    assert v["H2"][0] == "ruled out" and v["H3"][0] == "supported"
    assert decide({("noise", "sg"): INCONCLUSIVE})["H3"][0] == "open"
    # H4 from the rescaled readout
    st = {("readout-scaled", "readout5e-3"): PASS, ("readout-scaled", "sg"): FAIL}
    assert decide(st)["H4"][0] == "partly supported"
    st = {("readout-scaled", "readout5e-3"): INCONCLUSIVE, ("readout-scaled", "sg"): FAIL}
    assert decide(st)["H4"][0] == "ruled out"
    assert decide({("readout-scaled", "readout5e-3"): NOT_YET, ("readout-scaled", "sg"): FAIL})["H4"][0] == "open"
    # H5 from the frozen SG: as fast as the trained SG and faster than BP, or behind the trained SG
    assert decide({("frozen", "sg"): INCONCLUSIVE, ("frozen", "bp"): PASS})["H5"][0] == "supported"
    assert decide({("frozen", "sg"): PASS, ("frozen", "bp"): PASS})["H5"][0] == "supported"
    assert decide({("frozen", "sg"): FAIL, ("frozen", "bp"): PASS})["H5"][0] == "ruled out"
    assert decide({("frozen", "sg"): INCONCLUSIVE, ("frozen", "bp"): INCONCLUSIVE})["H5"][0] == "open"
    assert decide({})["H5"][0] == "open"


def test_control_rows_pair_the_groups_by_seed_and_summarise():
    from learning.bandit.hypotheses import CONTROLS, PAIRS, REFERENCES, hypothesis_rows, row_id

    def run(settings, seed, area):
        config = full_config({"steps": 1500, "p_flip": 0.4, "seed": seed} | settings
                             | ({"feature_rms": 2.0} if settings.get("feature_rms") == "any" else {}))
        return {"config": config, "result": {"eval": [{"step": 1, "reward": area}, {"step": 1500, "reward": area}]}}

    # constant curves: each area is its constant; the noise run is behind SG on every seed (H3 supported),
    # the baseline rescues BP at 5e-3 to SG's level (H1 supported)
    areas = {"sg": 0.7, "bp": 0.45, "bp5e-3": 0.11, "noise": 0.3, "bp-base5e-3": 0.7}
    runs = {}
    for name, (_, settings) in REFERENCES.items():
        for seed in range(3):
            runs[f"{name}{seed}"] = run(settings, seed, areas[name] + 0.01 * seed)
    for name in ("noise", "bp-base5e-3"):
        for seed in range(3):
            runs[f"{name}{seed}"] = run(CONTROLS[name][2], seed, areas[name] + 0.02 * seed * seed)
    # a run of another p_flip, or with a second control set, belongs to no group
    runs["other"] = run(CONTROLS["noise"][2] | {"p_flip": 0.0}, 4, 0.9)
    runs["two"] = run(CONTROLS["noise"][2] | {"baseline": "batch"}, 5, 0.9)
    # nor does a run of another sweep at a reference's method and rate (parents 14, seed 0, far behind)
    runs["parents"] = run(REFERENCES["sg"][1] | {"parents": 14}, 0, 0.0)
    rows = {r.id: r for r in hypothesis_rows(runs)}
    assert set(rows) == {row_id(c, r) for c, r in PAIRS} | {"C8-why"}
    assert rows[row_id("noise", "sg")].status == FAIL and "3 seeds" in rows[row_id("noise", "sg")].numbers
    assert rows[row_id("bp-base5e-3", "bp5e-3")].status == PASS
    assert rows[row_id("bp-base5e-3", "sg")].status == INCONCLUSIVE
    assert rows[row_id("matched", "sg")].status == NOT_YET
    why = rows["C8-why"]
    assert why.status == INCONCLUSIVE  # H2 and H4 are open
    assert "H1 (" in why.numbers and "supported, with the baseline" in why.numbers
    assert "H3 (the SG's content matters beyond its size): supported" in why.numbers
