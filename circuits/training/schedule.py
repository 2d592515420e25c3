"""Learning-rate and checkpoint schedules — pure functions of the step, so a resumed run needs no scheduler state."""
from __future__ import annotations

import math

from circuits.config import TrainConfig


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to `lr`, then cosine decay to `lr * min_lr_ratio` at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def checkpoint_steps(cfg: TrainConfig) -> list[int]:
    """The steps to checkpoint: 0 and `steps` always included.

    `checkpoint_spacing="log"`: `n_checkpoints` log-spaced steps (dense early). `"log+linear"` (default): the union
    of a log-spaced and an evenly spaced grid, `n_checkpoints` in all — dense early *and* no gap wider than
    ~2·steps/n_checkpoints, so a phase change in mid-training falls between close checkpoints.
    An explicit `checkpoint_steps` tuple overrides both.
    """
    if cfg.checkpoint_steps is not None:
        return sorted(set(cfg.checkpoint_steps) | {cfg.steps})
    n = min(cfg.n_checkpoints, cfg.steps + 1)
    linear = cfg.checkpoint_spacing == "log+linear"
    count = 2
    steps = {0, cfg.steps}
    while len(steps) < n:  # grow the grids until rounding leaves n distinct steps
        grid = {round(cfg.steps ** (i / (count - 1))) for i in range(count)}
        if linear:
            grid |= {round(cfg.steps * i / count) for i in range(count + 1)}
        steps = {0, cfg.steps} | grid
        count += 1
    return sorted(steps)


def eval_steps(cfg: TrainConfig) -> list[int]:
    """Every `eval_every` steps plus every checkpoint step, so each checkpoint has its eval row."""
    return sorted(set(range(0, cfg.steps + 1, cfg.eval_every)) | set(checkpoint_steps(cfg)))
