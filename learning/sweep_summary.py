"""The paper-scale sweeps in numbers: the means behind each sweep figure, as markdown tables.

One table per E2 sweep (`p_flip`, `lr`, `parents`, the fixed-lambda `ablation`, the plain-SGD pilot) and
per E3 environment and `num_envs`: a row per method (model), a column per setting, each cell the mean
over seeds with its standard error (ddof 1; none for one seed) and a second measure after a slash. E2:
final noise-free eval reward ± SE / area under the eval curve; E3: normalised success area ± SE /
success over the last 5 updates. The number of seeds is the caption's unless a cell says otherwise in
brackets. Rows whose settings do not overlap get tables of their own, and so do the MLP's learning
rates (a grid of its own). Then the measures of the mechanism's runs (learning.bandit.hypotheses): a
row per group of runs, the policy and the last hidden layer at the first and the last evaluation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from learning.bandit.hypotheses import CONTROLS, REFERENCES, group_measures, group_title
from learning.bandit.sweeps import load_runs as load_e2, reward_curve
from learning.rl.sweeps import final_success, load_runs as load_e3, success_area
from learning.tables import area_under_curve
from learning.verdicts import mean_se

E2_METHODS = {"sg": "SG adaptive", "sg-fixed": "SG fixed lambda", "bp": "BP", "mlp": "MLP"}
E3_MODELS = {"sparsenet-sg": "SparseNet SG", "sparsenet-bptt": "SparseNet BPTT", "gru": "GRU", "lstm": "LSTM"}
# sweep -> (the setting it varies, what the table says it is)
E2_SWEEPS = {"p_flip": ("p_flip", "reward flip probability p_flip"), "lr": ("lr", "policy learning rate"),
             "parents": ("parents", "parents per neuron"), "ablation": ("lam", "lambda (adaptive: its start)"),
             "sgd-pilot": ("lr", "learning rate of plain SGD (300 steps)")}


def _mean_se_text(values) -> str:
    m, se = mean_se(values)
    return f"{m:.3f} ± {se:.3f}"


def cell(first: list[float], second: list[float], seeds: int) -> str:
    """'mean ± SE / mean of the second measure' ('mean / second' for one seed), with [n] when n differs
    from the table's seeds."""
    text = (_mean_se_text(first) if len(first) > 1 else f"{first[0]:.3f}") + f" / {mean_se(second)[0]:.3f}"
    return text + (f" [{len(first)}]" if len(first) != seeds else "")


def _setting(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _groups(rows: dict) -> list[list[str]]:
    """Row names in tables: rows whose settings overlap share one (the union of their settings as
    columns), rows with settings of their own get another."""
    groups: list[tuple[set, list[str]]] = []
    for name, by in rows.items():
        for settings, names in groups:
            if settings & set(by):
                settings |= set(by)
                names.append(name)
                break
        else:
            groups.append((set(by), [name]))
    return [names for _, names in groups]


def _commonest(values: list, size=lambda v: v):
    """The commonest of values (numbers of seeds, or sets of seeds); on a tie, the larger by size."""
    counts = Counter(values)
    return max(counts, key=lambda v: (counts[v], size(v)))


def _seeds(n: int) -> str:
    return f"{n} seed" + ("s" if n != 1 else "")


def table(caption: str, rows: dict, label: str, groups: list[list[str]] | None = None) -> list[str]:
    """rows: {row name: {setting: (first values, second values)}} -> markdown lines, a table per group of
    row names (default: rows whose settings overlap); a setting a row has no run of is '-'."""
    seeds = _commonest([len(v[0]) for by in rows.values() for v in by.values()])
    lines = []
    for names in (groups if groups is not None else _groups(rows)):
        settings = sorted({s for n in names for s in rows[n]})
        lines += [f"{caption}, {_seeds(seeds)}:", "",
                  f"| {label} | " + " | ".join(_setting(s) for s in settings) + " |",
                  "|---" * (len(settings) + 1) + "|"]
        lines += [f"| {n} | " + " | ".join(cell(*rows[n][s], seeds) if s in rows[n] else "-" for s in settings)
                  + " |" for n in names]
        lines.append("")
    return lines


def e2_rows(data: dict, sweep: str) -> dict:
    """{method title: {setting: (final rewards, areas)}} of an E2 sweep's stored runs."""
    key = E2_SWEEPS[sweep][0]
    rows: dict = {}
    for k in data["sweeps"].get(sweep, {}).get("keys", []):
        run = data["runs"].get(k)
        if run is None:
            continue
        c = run["config"]
        name = E2_METHODS[c["method"]]
        steps, rewards = reward_curve(run["result"])
        finals, areas = rows.setdefault(name, {}).setdefault(c[key], ([], []))
        finals.append(float(rewards[-1]))
        areas.append(area_under_curve(steps, rewards))
    order = list(E2_METHODS.values())
    return {n: rows[n] for n in sorted(rows, key=order.index)}


def _e2_groups(sweep: str, rows: dict) -> list[list[str]] | None:
    """The ablation's rows in one table (adaptive lambda beside the fixed ones); the learning rates of
    SparseNet and of the MLP, a network with a grid of its own, apart; else by overlapping settings."""
    if sweep == "ablation":
        return [list(rows)]
    if sweep == "lr":
        return [g for g in ([n for n in rows if n != E2_METHODS["mlp"]], [n for n in rows if n == E2_METHODS["mlp"]]) if g]
    return None


def e3_rows(runs: dict) -> dict:
    """{(env, num_envs): {model title: {lr: (success areas, final successes)}}} of the stored E3 runs."""
    cells: dict = {}
    for run in runs.values():
        c = run["config"]
        by = cells.setdefault((c["env"], c["num_envs"]), {}).setdefault(E3_MODELS[c["model"]], {})
        areas, finals = by.setdefault(c["lr"], ([], []))
        areas.append(success_area(run["result"]))
        finals.append(final_success(run["result"]))
    order = list(E3_MODELS.values())
    return {cell_: {m: by[m] for m in sorted(by, key=order.index)}
            for cell_, by in sorted(cells.items(), key=lambda kv: (kv[0][0] != "escape", kv[0][1]))}


def _seed_list(seeds) -> str:
    """'6-11' for consecutive seeds, else '0, 2, 5'."""
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(x) for x in seeds)


def mechanism_table(runs: dict) -> list[str]:
    """The measures stored with each group of the mechanism's runs (the paper's pair, the references and
    the controls of H1-H5): mean ± SE over the seeds measured (the paper's pair was measured on seeds
    6-11, the runs of C8-12, the controls on 0-5); lambda at the end as the range over layers of its mean
    over seeds; [] when no run has measures."""
    groups = {name: group_measures(runs, name) for name in list(REFERENCES) + list(CONTROLS)}
    groups = {name: by_seed for name, by_seed in groups.items() if by_seed}
    if not groups:
        return []
    common = _commonest([tuple(sorted(by_seed)) for by_seed in groups.values()], size=len)
    body = []
    for name, by_seed in groups.items():
        rows = list(by_seed.values())
        cells = [_mean_se_text([r[k] for r in rows]) for k in ("area", "entropy", "modal_share", "rms_first", "rms_last")]
        lams = [r["lambda_last"] for r in rows if r["lambda_last"]]
        lam = mean_se(lams)[0] if lams else None
        cells.append(f"{lam.min():.3f} to {lam.max():.3f}" if lam is not None else "-")
        which = f" [seeds {_seed_list(sorted(by_seed))}]" if tuple(sorted(by_seed)) != common else ""
        body.append(f"| {group_title(name)}{which} | " + " | ".join(cells) + " |")
    return [f"E2 `mechanism`: the measures stored with the runs, mean ± SE over seeds {_seed_list(common)} unless "
            "a row names its own, at the first "
            "evaluation (step 1) and the last (step 1,500); lambda as the range over the layers of its mean:", "",
            "| runs | area under the eval curve | policy entropy at the end (nats) | share on the modal action "
            "at the end | last hidden rms, first | last hidden rms, last | adaptive lambda at the end |",
            "|---" * 7 + "|"] + body + [""]


def section(paper_dir: Path) -> list[str]:
    """The markdown section of every stored sweep under paper_dir (e2/, e3/); [] when none is stored."""
    lines = []
    e2_dir, e3_dir = Path(paper_dir) / "e2", Path(paper_dir) / "e3"
    if (e2_dir / "sweeps.json").exists():
        data = load_e2(e2_dir)
        for sweep, (_, label) in E2_SWEEPS.items():
            rows = e2_rows(data, sweep)
            if len({s for by in rows.values() for s in by}) >= 2:
                lines += table(f"E2 `{sweep}`: final noise-free eval reward ± SE / area under the eval curve",
                               rows, label, _e2_groups(sweep, rows))
        lines += mechanism_table(data["runs"])
    if (e3_dir / "sweeps.json").exists():
        for (env, n), rows in e3_rows(load_e3(e3_dir)).items():
            lines += table(f"E3 {env}, `num_envs` {n}: success area ± SE / success over the last 5 updates",
                           rows, "learning rate")
    return lines
