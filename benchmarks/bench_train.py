"""Speed, model-FLOP utilisation and memory of one training step of the ``cpu`` preset.

Builds the cpu preset's model as a run does (``switchvae.train.setup``: Fabric, model,
AdamW) on a random batch (B grids 1×32³, B·V gray views H×W) and times the engine's own
``train_step`` (forward, losses, finiteness check, backward, AdamW step) in four variants,
interleaved round by round (the order rotating) so load from other processes hits all of
them:

* ``fp32``: plain fp32 eager, contiguous CNN, default AdamW (a per-tensor loop on CPU);
* ``engine``: what ``switchvae train`` runs for the preset: Fabric ``bf16-mixed`` (bf16
  autocast), channels-last image CNN, AdamW as ``build_optimizer`` makes it;
* ``optimized``: ``engine`` with ``AdamW(fused=True)``;
* ``opt+cl3d``: ``optimized`` with the voxel encoder and decoder in ``channels_last_3d``
  (a candidate engine change: oneDNN's kernels for the 3D branches, above all the
  decoder's last 8→1 transposed convolution, are much faster in that layout).

Then it times the image encoder's ResNet-18 alone (forward + backward over B·V images,
bf16 channels-last and fp32 contiguous), counts FLOPs with ``FlopCounterMode``, measures
a conv peak (Conv2d 3×3 256→256 on 64², bf16 and fp32, forward) and reports model-FLOP
utilisation against the bf16 peak; checks that autocast and channels-last reach the
convolutions; and measures memory: bytes autograd saves for backward in one step and, in
a fresh subprocess per variant, peak RSS.

    .venv/bin/python benchmarks/bench_train.py [--steps 15] [--warmup 3] [--batch 16]
        [--views 8] [--image-size 64] [--threads 2] [--profile]

Prints: seconds per step (median and best over the timed rounds), samples/s, each
variant's speed-up over fp32 (ratio of medians, of bests, median of per-round ratios);
GFLOP and GFLOP/s of the CNN, the whole step and the conv peak; utilisation; the dtype and
layout seen by each convolution; memory in MiB. ``--profile`` adds the top operators of
two optimized steps. On a machine shared with other work the "best" column is the least
disturbed figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from switchvae.config import Config, load_config
from switchvae.model.resnet import ResNet18
from switchvae.train.engine import FieldsOutput, Trainer, forward_losses, train_step
from switchvae.train.precision import BF16, resolve_precision
from switchvae.train.setup import build_model, build_optimizer, make_fabric, switch_generator

VOXEL_OCCUPANCY = 0.1  # about the synthetic shapes' fill fraction; speed does not depend on it
KL_EPOCH = 1  # any epoch: the KL weight does not change the work done
PEAK_CHANNELS, PEAK_SIZE, PEAK_BATCH = 256, 64, 4  # the conv-peak probe: 19 GFLOP a call
CNN_REPEATS = 10  # timed rounds for the CNN-alone and conv-peak measurements
MEMORY_STEPS = 3  # steps run by each memory subprocess (the first allocates AdamW state)
PROFILE_ROWS = 15
KIB, MIB = 2**10, 2**20
GIGA = 1e9
SLOW_FACTOR, SLOW_ROUNDS = 4.0, 2
AUTO_TOLERANCE = 0.9  # auto must reach 90% of the fastest variant's samples/s
CL, CL3 = torch.channels_last, torch.channels_last_3d


@dataclass(frozen=True)
class Variant:
    """One way to run the step: Fabric precision, CNN layout, AdamW implementation."""

    name: str
    precision: str
    channels_last: bool
    fused_adamw: bool
    about: str
    channels_last_3d: bool = False


VARIANTS = (
    Variant("fp32", "32-true", False, False, "fp32 eager, contiguous, default AdamW"),
    Variant("fp32+cl3d", "32-true", False, False, "fp32, channels_last_3d 3D nets only", True),
    Variant("fp32+cl", "32-true", True, False, "fp32, channels_last 2D + 3D nets", True),
    Variant("bf16", "bf16-mixed", False, False, "bf16 autocast, contiguous"),
    Variant("bf16+cl", "bf16-mixed", True, False, "bf16 autocast, channels_last 2D + 3D", True),
)
BY_NAME = {v.name: v for v in VARIANTS}


def bench_config(args: argparse.Namespace, variant: Variant) -> Config:
    """The cpu preset with this benchmark's batch shape and the variant's precision/layout."""
    return load_config(
        "cpu",
        overrides=[
            f"data.batch_size={args.batch}",
            f"data.num_views={args.views}",
            "train.accelerator=cpu",
            f"train.precision={variant.precision}",
            f"train.channels_last={str(variant.channels_last).lower()}",
        ],
    )


def build_step(args: argparse.Namespace, variant: Variant) -> Trainer:
    """Fabric, model, optimizer and a constant schedule, set up as ``fit`` sets them up."""
    config = bench_config(args, variant)
    fabric = make_fabric(config)
    network = build_model(config, world_size=1)
    if variant.channels_last_3d:  # (B, 1, D, D, D) grids and seeds are already both layouts
        network.voxel_encoder.to(memory_format=CL3)
        network.decoder.to(memory_format=CL3)
    optimizer = build_optimizer(network, config)
    if variant.fused_adamw:
        optim = config.optim
        optimizer = torch.optim.AdamW(
            network.parameters(), lr=optim.lr, weight_decay=optim.weight_decay, fused=True
        )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    model, optimizer = fabric.setup(FieldsOutput(network), optimizer)
    generator = switch_generator(config.train.seed)
    return Trainer(fabric, model, optimizer, scheduler, generator, config.loss, epoch=KL_EPOCH)


def random_batch(args: argparse.Namespace, seed: int = 0) -> dict[str, Tensor]:
    """voxels (B, 1, D, D, D) in {0, 1} and views (B, V, C, H, W) in [0, 1]."""
    model = load_config("cpu").model
    gen = torch.Generator().manual_seed(seed)
    side, size = model.voxel_resolution, args.image_size
    voxels = (
        torch.rand((args.batch, 1, side, side, side), generator=gen) < VOXEL_OCCUPANCY
    ).float()
    views = torch.rand((args.batch, args.views, model.image_channels, size, size), generator=gen)
    return {"voxels": voxels, "views": views}


def time_interleaved(
    fns: dict[str, Callable[[], object]], rounds: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds of each call, round by round (order rotating each round); warm-up dropped."""
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name]()
            if index >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs (2 per multiply-add) of the matmuls and convolutions ``fn`` runs."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Left-aligned first column, right-aligned others."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))
    print()


def step_fn(ctx: Trainer, batch: dict[str, Tensor]) -> Callable[[], object]:
    """One full training step of ``ctx`` on ``batch``."""
    return lambda: train_step(ctx, batch)


def forward_backward(ctx: Trainer, batch: dict[str, Tensor]) -> None:
    """Forward, losses and backward of a step (no optimizer step); gradients cleared."""
    losses = forward_losses(ctx.model, batch, ctx.generator, ctx.loss, KL_EPOCH)
    ctx.fabric.backward(losses.total)
    ctx.optimizer.zero_grad(set_to_none=True)


def bench_steps(
    args: argparse.Namespace, ctxs: dict[str, Trainer], batch: dict[str, Tensor]
) -> dict[str, list[float]]:
    """Time the full step of every variant; print the table; return the seconds.

    A variant more than :data:`SLOW_FACTOR` × slower than the fastest in the warm-up round
    (bf16 where it is emulated) gets :data:`SLOW_ROUNDS` timed rounds instead of
    ``args.steps``, so the table stays affordable on any CPU.
    """
    fns = {name: step_fn(ctx, batch) for name, ctx in ctxs.items()}
    first = time_interleaved(fns, 1, args.warmup)
    fastest = min(v[0] for v in first.values())
    slow = {name for name, v in first.items() if v[0] > SLOW_FACTOR * fastest}
    times = time_interleaved({k: f for k, f in fns.items() if k not in slow}, args.steps, 0)
    if slow:
        times.update(time_interleaved({k: fns[k] for k in slow}, SLOW_ROUNDS, 0))
    for name, values in first.items():
        times[name].append(values[0])
    print(f"== full training step: batch {args.batch}, {args.views} views at {args.image_size}²,")
    print(f"   {args.steps} timed rounds after {args.warmup} warm-up ({SLOW_ROUNDS} for variants")
    print(f"   > {SLOW_FACTOR}x slower than the fastest), {args.threads} threads")
    rows = []
    for name in fns:
        values = times[name]
        median, best = statistics.median(values), min(values)
        rows.append(
            [name, f"{median:.3f}", f"{best:.3f}", f"{args.batch / median:.1f}",
             f"{args.batch / best:.1f}", BY_NAME[name].about]
        )  # fmt: skip
    print_table(["variant", "s/step med", "best", "samples/s med", "best", "what"], rows)
    return times


def report_auto(args: argparse.Namespace, times: dict[str, list[float]]) -> str:
    """Print what ``train.precision=auto`` (with the cpu preset's layout) picks and how far
    it is from the fastest variant; return the variant it runs."""
    choice = resolve_precision("auto", "cpu")
    layout = "+cl" if load_config("cpu").train.channels_last else ""
    picked = ("bf16" if choice.precision == BF16 else "fp32") + layout
    medians = {name: statistics.median(v) for name, v in times.items()}
    if picked not in medians:
        print(f"auto -> {choice.precision} ({choice.reason}); its row was not measured\n")
        return next(iter(medians))
    best = min(medians, key=medians.get)
    ratio = medians[best] / medians[picked]
    verdict = "OK" if ratio >= AUTO_TOLERANCE else "TOO SLOW"
    print(f"cpu capability: {torch.backends.cpu.get_cpu_capability()}; auto -> "
          f"{choice.precision} ({choice.reason})")  # fmt: skip
    print(f"auto runs {picked}: {args.batch / medians[picked]:.1f} samples/s; best is {best}: "
          f"{args.batch / medians[best]:.1f} samples/s; auto reaches {ratio:.0%} of the best "
          f"(target >= {AUTO_TOLERANCE:.0%}): {verdict}\n")  # fmt: skip
    return picked


def conv_peak(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """GFLOP/s (median, best) of a 3×3 256→256 conv on 64² maps, bf16 and fp32."""
    conv = nn.Conv2d(PEAK_CHANNELS, PEAK_CHANNELS, 3, padding=1, bias=False).to(memory_format=CL)
    x = torch.randn(PEAK_BATCH, PEAK_CHANNELS, PEAK_SIZE, PEAK_SIZE).contiguous(memory_format=CL)
    conv_bf16 = nn.Conv2d(PEAK_CHANNELS, PEAK_CHANNELS, 3, padding=1, bias=False)
    conv_bf16 = conv_bf16.to(torch.bfloat16, memory_format=CL)
    x_bf16 = x.to(torch.bfloat16)
    with torch.no_grad():
        flops = count_flops(lambda: conv(x))
        fns = {"bf16": lambda: conv_bf16(x_bf16), "fp32": lambda: conv(x)}
        times = time_interleaved(fns, CNN_REPEATS, warmup=2)
    return {
        k: (flops / statistics.median(v) / GIGA, flops / min(v) / GIGA) for k, v in times.items()
    }


def cnn_pass(backbone: nn.Module, images: Tensor, bf16: bool) -> None:
    """Forward + backward of the ResNet alone, as in a training step (no input gradient)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        features = backbone(images)
    features.float().sum().backward()
    backbone.zero_grad(set_to_none=True)


def bench_cnn(args: argparse.Namespace) -> tuple[dict[str, list[float]], int, int]:
    """Seconds of the ResNet-18's forward + backward over B·V views (bf16 channels-last vs
    fp32 contiguous); FLOPs of its forward and of forward + backward."""
    channels = load_config("cpu").model.image_channels
    shape = (args.batch * args.views, channels, args.image_size, args.image_size)
    images = torch.rand(shape)
    fast, plain = ResNet18(channels).to(memory_format=CL).train(), ResNet18(channels).train()
    images_cl = images.contiguous(memory_format=CL)
    with torch.no_grad():
        forward = count_flops(lambda: plain(images))
    train = count_flops(lambda: cnn_pass(plain, images, bf16=False))
    fns = {
        "bf16+cl": lambda: cnn_pass(fast, images_cl, bf16=True),
        "fp32": lambda: cnn_pass(plain, images, bf16=False),
    }
    return time_interleaved(fns, CNN_REPEATS, warmup=2), forward, train


def rate_row(label: str, flops: int, times: list[float], peak: tuple[float, float]) -> list:
    """Table row: seconds, GFLOP/s and share of the bf16 peak, median and best."""
    med, best = statistics.median(times), min(times)
    rate_med, rate_best = flops / med / GIGA, flops / best / GIGA
    return [label, f"{med:.3f}", f"{best:.3f}", f"{rate_med:.0f}", f"{rate_best:.0f}",
            f"{rate_med / peak[0]:.0%}", f"{rate_best / peak[1]:.0%}"]  # fmt: skip


def report_flops(
    args: argparse.Namespace, ctx: Trainer, batch: dict, step_times: dict[str, list[float]]
) -> None:
    """Print FLOP counts, achieved rates and utilisation against the measured conv peak."""
    peak = conv_peak(args)
    cnn_times, cnn_fwd, cnn_train = bench_cnn(args)
    step_flops = count_flops(lambda: forward_backward(ctx, batch))
    print("== FLOPs (FlopCounterMode, 2 per multiply-add) and model-FLOP utilisation")
    print_table(
        ["conv peak probe (forward)", "GFLOP/s med", "best"],
        [[f"3x3 {PEAK_CHANNELS}->{PEAK_CHANNELS}, {PEAK_BATCH}x{PEAK_SIZE}², {k}, channels_last",
          f"{m:.0f}", f"{b:.0f}"] for k, (m, b) in peak.items()],
    )  # fmt: skip
    print(f"ResNet-18 over {args.batch * args.views} views: forward {cnn_fwd / GIGA:.1f} GFLOP, "
          f"forward+backward {cnn_train / GIGA:.1f} GFLOP ({cnn_train / cnn_fwd:.2f}x forward); "
          f"whole step forward+backward {step_flops / GIGA:.1f} GFLOP "
          f"(CNN {cnn_train / step_flops:.0%})")  # fmt: skip
    rows = [rate_row(f"CNN alone, {k}", cnn_train, v, peak["bf16"]) for k, v in cnn_times.items()]
    rows += [
        rate_row(f"CNN in step, {k}", cnn_train, v, peak["bf16"]) for k, v in step_times.items()
    ]
    rows += [
        rate_row(f"whole step, {k}", step_flops, v, peak["bf16"]) for k, v in step_times.items()
    ]
    headers = [
        "what (forward+backward)",
        "s med",
        "best",
        "GFLOP/s med",
        "best",
        "of bf16 peak med",
        "best",
    ]
    print_table(headers, rows)  # fmt: skip
    print("CNN in step = the CNN's FLOPs / the whole step's time (the step also runs the 3D "
          "nets, AdamW, ...); target >= 50% of the bf16 peak\n")  # fmt: skip


def layout_of(x: Tensor) -> str:
    """``channels_last``, ``contiguous``, ``both`` (e.g. one channel) or ``strided``."""
    nhwc = x.dim() in (4, 5) and x.is_contiguous(memory_format=CL if x.dim() == 4 else CL3)
    nchw = x.is_contiguous()
    if nhwc and nchw:
        return "both"
    return "channels_last" if nhwc else "contiguous" if nchw else "strided"


class ConvAudit(TorchDispatchMode):
    """Counts convolutions by (2D/3D, direction, dtype, channels-last input)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        if func in (
            torch.ops.aten.convolution.default,
            torch.ops.aten.convolution_backward.default,
        ):
            x = args[0]  # forward: the input; backward: the output gradient
            kind = (
                f"{x.dim() - 2}D {'fwd' if func is torch.ops.aten.convolution.default else 'bwd'}"
            )
            self.seen[(kind, str(x.dtype).removeprefix("torch."), layout_of(x))] += 1
        return func(*args, **(kwargs or {}))


def adamw_kind(group: dict) -> str:
    """Which AdamW implementation a parameter group runs (for CPU parameters)."""
    if group.get("fused"):
        return "fused kernel (fused=True)"
    if group.get("foreach"):
        return "multi-tensor (foreach=True)"
    return "per-tensor loop (fused/foreach unset: PyTorch's default for CPU tensors)"


def audit(ctxs: dict[str, Trainer], batch: dict[str, Tensor]) -> None:
    """Print which dtype and layout the convolutions of one forward + backward receive."""
    print("== convolutions seen in one forward+backward (count by dim, direction, dtype, layout)")
    rows = []
    for name, ctx in ctxs.items():
        mode = ConvAudit()
        with mode:
            forward_backward(ctx, batch)
        rows += [[name, *key, str(n)] for key, n in sorted(mode.seen.items())]
    print_table(["variant", "conv", "dtype", "input layout", "calls"], rows)
    for name, ctx in ctxs.items():
        print(f"{name}: AdamW {adamw_kind(ctx.optimizer.param_groups[0])}")
    print(f"torch {torch.__version__}, mkldnn enabled={torch.backends.mkldnn.enabled}, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}\n")  # fmt: skip


def saved_bytes(ctx: Trainer, batch: dict[str, Tensor]) -> tuple[int, int]:
    """Bytes autograd keeps for backward in one step: (all but parameters, parameters)."""
    params = {p.untyped_storage().data_ptr() for p in ctx.model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        losses = forward_losses(ctx.model, batch, ctx.generator, ctx.loss, KL_EPOCH)
    ctx.fabric.backward(losses.total)
    ctx.optimizer.zero_grad(set_to_none=True)
    weights = sum(n for ptr, n in storages.items() if ptr in params)
    return sum(storages.values()) - weights, weights


def proc_status_bytes(field: str) -> int:
    """A ``kB`` field of /proc/self/status (Linux): ``VmRSS`` now, ``VmHWM`` peak RSS.

    Unlike ``getrusage``'s ``ru_maxrss``, ``VmHWM`` does not carry the parent's peak over
    ``fork`` + ``exec``, so a fresh child reports its own peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * KIB
    raise OSError(f"/proc/self/status has no {field}")


def memory_child(args: argparse.Namespace) -> None:
    """In a fresh process: RSS before the first step and peak RSS over a few steps (JSON)."""
    ctx = build_step(args, BY_NAME[args.memory_child])
    batch = random_batch(args)
    before = proc_status_bytes("VmRSS")
    for _ in range(MEMORY_STEPS):
        train_step(ctx, batch)
    peak = proc_status_bytes("VmHWM")
    print(json.dumps({"before": before, "peak": peak}))


def child_memory(args: argparse.Namespace, name: str) -> dict[str, int]:
    """Run :func:`memory_child` for variant ``name`` in a subprocess."""
    argv = [sys.executable, __file__, "--memory-child", name, "--batch", str(args.batch)]
    argv += ["--views", str(args.views), "--image-size", str(args.image_size)]
    argv += ["--threads", str(args.threads)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report_memory(args: argparse.Namespace, ctxs: dict, batch: dict) -> None:
    """Print autograd-saved bytes per variant and per-variant peak RSS of fresh processes."""
    print("== memory (MiB): autograd saved = storages kept for backward in one step (activations")
    print("   and bf16 weight copies; the fp32 parameters it keeps are counted apart); RSS from a")
    print(
        f"   fresh process per variant over {MEMORY_STEPS} steps (the first allocates AdamW state)"
    )
    rows = []
    for name, ctx in ctxs.items():
        activations, weights = saved_bytes(ctx, batch)
        rss = child_memory(args, name)
        rows.append(
            [name, f"{activations / MIB:.0f}", f"{weights / MIB:.0f}", f"{rss['before'] / MIB:.0f}",
             f"{rss['peak'] / MIB:.0f}", f"{(rss['peak'] - rss['before']) / MIB:.0f}"]
        )  # fmt: skip
    headers = [
        "variant",
        "autograd saved",
        "+ fp32 params",
        "RSS before",
        "peak RSS",
        "peak-before",
    ]
    print_table(headers, rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KIB  # ru_maxrss is in KiB
    print(f"this process (all variants + probes): peak RSS {peak / MIB:.0f} MiB\n")


def profile(ctx: Trainer, batch: dict[str, Tensor]) -> None:
    """Print the operators taking the most time in two optimized steps."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(2):
            train_step(ctx, batch)
    print("== top operators of two optimized steps (self CPU time)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=PROFILE_ROWS))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="timed rounds of the full step")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--batch", type=int, default=16, help="B (cpu preset: 16)")
    parser.add_argument("--views", type=int, default=8, help="V (cpu preset: 8)")
    parser.add_argument("--image-size", type=int, default=64, help="H = W (cpu preset: 64)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--profile", action="store_true", help="also print top operators")
    parser.add_argument("--variants", nargs="*", choices=list(BY_NAME), help="only these rows")
    parser.add_argument(
        "--detail", action="store_true", help="also FLOP utilisation, conv audit and memory"
    )
    parser.add_argument("--memory-child", choices=list(BY_NAME), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    if args.memory_child:
        memory_child(args)
        return
    batch = random_batch(args)
    chosen = [v for v in VARIANTS if not args.variants or v.name in args.variants]
    ctxs = {v.name: build_step(args, v) for v in chosen}
    step_times = bench_steps(args, ctxs, batch)
    picked = report_auto(args, step_times)
    if args.detail:
        report_flops(args, ctxs[picked], batch, step_times)
        audit(ctxs, batch)
        report_memory(args, ctxs, batch)
    if args.profile:
        profile(ctxs[picked], batch)


if __name__ == "__main__":
    main()
