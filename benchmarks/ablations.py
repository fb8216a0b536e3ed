"""Ablations and the alignment-loss choice, on the same data and the same training budget.

Trains one run per variant on a prepared dataset, evaluates each with the protocol of
``switchvae evaluate`` on the **val** split (settings are chosen on val; the test split is
scored once, for the final configuration only, with ``switchvae evaluate RUN``) and writes a
markdown table of mean ± std over **training seeds**.

    python benchmarks/ablations.py --data data/mn10 --out runs/ablations \\
        --config configs/modelnet10.yaml --study modes --seeds 0 1 2
    python benchmarks/ablations.py --data demo_run/data --out runs/alignment --study alignment

Every variant gets the same budget: the config's epochs (``--epochs`` overrides them).
Finished variants are skipped when the command is re-run (each keeps its metrics.json),
so a killed study resumes. The table goes to ``<out>/results.md`` and stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from switchvae.config import load_config
from switchvae.demo import _untrained_run
from switchvae.evaluate.metrics import evaluate_run, flatten_metrics
from switchvae.train.checkpoint import has_checkpoints
from switchvae.train.fit import fit

UNTRAINED = ["<untrained>"]  # marker: evaluate a randomly initialised model, no training
STUDIES: dict[str, dict[str, list[str]]] = {
    "modes": {
        "switch": [],
        "switch, no alignment": ["loss.align_weight=0.0"],
        "switch, no reconstruction": ["loss.recon_pos_weight=0.0", "loss.recon_neg_weight=0.0"],
        "weighted_add": ["model.mode=weighted_add"],
        "voxel_only": ["model.mode=voxel_only"],
        "image_only": ["model.mode=image_only"],
        "untrained": UNTRAINED,  # the same settings, random weights
    },
    "alignment": {
        "mse on means": ["loss.align=mse", "loss.align_on=mean"],
        "mse on samples (public code)": ["loss.align=mse", "loss.align_on=sample"],
        "cosine on means": ["loss.align=cosine", "loss.align_on=mean"],
        "infonce on means": ["loss.align=infonce", "loss.align_on=mean"],
        "mse, stop-grad on chosen": ["loss.align=mse", "loss.align_stop_grad=chosen"],
    },
}
COLUMNS = [
    ("IoU voxel", "reconstruction.voxel.mean_iou"),
    ("IoU image", "reconstruction.image.mean_iou"),
    ("lin-SVM voxel", "classification.voxel.linear_svm.accuracy"),
    ("lin-SVM image", "classification.image.linear_svm.accuracy"),
    ("RBF-SVM voxel", "classification.voxel.rbf_svm.accuracy"),
    ("RBF-SVM image", "classification.image.rbf_svm.accuracy"),
    ("retrieval top-1", "retrieval.image_to_voxel.top1"),
]
SPREAD = [
    ("z spread voxel", "latents.voxel.mean_dim_std"),
    ("z spread image", "latents.image.mean_dim_std"),
]


def run_variant(name: str, overrides: list[str], args: argparse.Namespace, seed: int) -> dict:
    """Train and evaluate one variant (or reuse its metrics.json); flattened metrics."""
    slug = name.replace(", ", "_").replace(" ", "_").replace("-", "")
    run_dir = args.out / f"{slug}_seed{seed}"
    untrained = overrides == UNTRAINED
    if untrained:  # demo's helper writes RUN/../untrained
        run_dir = run_dir / "untrained"
    metrics_path = run_dir / "metrics.json"
    if metrics_path.exists():
        return flatten_metrics(json.loads(metrics_path.read_text()))
    if args.table_only:
        return {}
    budget = []
    if args.epochs:
        budget = [f"train.epochs={args.epochs}", f"loss.kl_cycle_epochs={args.epochs}"]
    extra = [f"train.seed={seed}", *([] if untrained else overrides), *args.set]
    config = load_config(args.preset, args.config, overrides=[*budget, *extra])
    start = time.perf_counter()
    if untrained:
        _untrained_run(config, run_dir.parent / "run", Path(args.data))
    else:
        fit(config, args.data, run_dir, resume=has_checkpoints(run_dir), progress=False)
    metrics = evaluate_run(run_dir, args.data, args.split, seeds=args.svm_seeds, progress=False)
    print(f"  {name} (seed {seed}): {time.perf_counter() - start:.0f} s", flush=True)
    return flatten_metrics(metrics)


def format_table(rows: dict[str, list[dict]]) -> str:
    """Markdown table: mean (± std over training seeds when more than one)."""
    columns = [(c, k, 100.0, 1) for c, k in COLUMNS] + [(c, k, 1.0, 2) for c, k in SPREAD]
    header = "| variant | seeds | " + " | ".join(c for c, *_ in columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 2)]
    for name, runs in rows.items():
        cells = [str(len(runs))]
        for _, key, scale, digits in columns:
            values = [scale * r[key] for r in runs if r.get(key) is not None]
            if not values:
                cells.append("–")
            elif len(values) == 1:
                cells.append(f"{values[0]:.{digits}f}")
            else:
                mean, std = statistics.mean(values), statistics.stdev(values)
                cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="prepared dataset")
    parser.add_argument("--out", type=Path, required=True, help="directory for the runs")
    parser.add_argument("--study", choices=sorted(STUDIES), default="modes")
    parser.add_argument("--preset", default="cpu", help="preset under --config")
    parser.add_argument("--config", type=Path, default=None, help="YAML recipe (e.g. modelnet10)")
    parser.add_argument("--epochs", type=int, default=0, help="budget per run (0: the config's)")
    parser.add_argument("--split", choices=("val", "test"), default="val", help="split scored")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--svm-seeds", type=int, default=1, help="SVM seeds per evaluation")
    parser.add_argument("--only", nargs="*", default=None, help="variant names to run")
    parser.add_argument("--set", action="append", default=[], help="extra key=value override")
    parser.add_argument(
        "--single-seed", nargs="*", default=[], help="variants trained with the first seed only"
    )
    parser.add_argument(
        "--table-only", action="store_true", help="only tabulate the runs already evaluated"
    )
    args = parser.parse_args()
    args.max_seeds = dict.fromkeys(args.single_seed, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    variants = {k: v for k, v in STUDIES[args.study].items() if not args.only or k in args.only}
    epochs = args.epochs or load_config(args.preset, args.config).train.epochs
    print(f"study {args.study}: {len(variants)} variants x {len(args.seeds)} seeds, "
          f"{epochs} epochs each, data {args.data}", flush=True)  # fmt: skip
    rows: dict[str, list[dict]] = {name: [] for name in variants}
    for index, seed in enumerate(args.seeds):  # seed-major: every variant gets seed 0 first
        for name, overrides in variants.items():
            if index < args.max_seeds.get(name, len(args.seeds)):
                result = run_variant(name, overrides, args, seed)
                if result:
                    rows[name].append(result)
    table = format_table(rows)
    recipe = args.config or f"the {args.preset} preset"
    budget = f"{epochs} epochs of {recipe}, training seeds {args.seeds}"
    text = (
        f"Study `{args.study}` — {budget}; {args.split} split; values in % (z spread: mean "
        f"per-dimension std of z_mean); ± is the std over training seeds.\n\n{table}\n"
    )
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
