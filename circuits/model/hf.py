"""Local Hugging Face checkpoints (GPT-2, GPT-NeoX/Pythia) as TransformerLens 4.3 bridges, loaded with no network.

`discover_revisions` turns folders saved with `save_pretrained` into a step-sorted series, `load_hf_bridge` loads
one folder offline into a `TransformerBridge`, `hf_model_facts` says what a probe needs to build its token inputs
(Yin & Steinhardt 2025, arXiv 2502.14010: [BOS, r, r] repeats in the model's own vocabulary).

Folder layouts (`discover_revisions`):
  several model folders   each holds config.json; its step is the number in its name (see `step_from_name`)
  one parent folder       its subfolders are the revisions (`step1000`, `step-2000`, `rev_3000`, …); subfolders
                          with neither a config.json nor a number in their name (e.g. the workbench's `analysis`)
                          are ignored
  one model folder        its step is the number after a step word (`…-step3000`), else 0 (logged): the digits
                          of a lone model's name usually give its size (`gpt2`, `pythia-70m`), not a step
Every revision of a series must be the same model (model_type and every size in config.json).

Loading: `AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, attn_implementation="eager")` in
float32, with HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE set (and huggingface_hub's flag, read once at import) for the
call. Weights the file lacks are an error, never silently re-initialised. Tokenizer: with transformers 5.24,
`boot_transformers` on a folder without tokenizer files does not raise — it builds an EMPTY tokenizer (vocab size
0) whose `to_tokens` is garbage. So a folder with tokenizer files (tokenizer.json / vocab.json / tokenizer.model)
goes through `TransformerBridge.boot_transformers(str(folder), hf_model=model, tokenizer=local_tokenizer)`, and a
folder without goes through `transformer_lens.model_bridge.sources.build_bridge_from_module(model, architecture,
hf_config=model.config, tokenizer=None)` — the same assembly `boot_transformers` runs on `hf_model=`, minus the
tokenizer (and the one `boot_native` uses). Both give identical hook names, state-dict keys and logits
(tests/test_hf.py); `bridge.tokenizer` is then None, as on our native bridges: probes pass int64 token tensors.

Facts for a hook-based intervention engine, checked on tiny GPT-2 and GPT-NeoX bridges (transformer-lens 4.3.0,
transformers 5.24; tests/test_hf.py), no compatibility mode:
  * `bridge(tokens)` with int64 [batch pos] tokens returns float32 logits [batch pos d_vocab], equal to the HF
    model's own logits (atol 1e-4; measured ≤ 1e-7). bridge.cfg has n_layers, n_heads, d_model, d_head, n_ctx,
    d_vocab, positional_embedding_type ("standard" / "rotary"), normalization_type ("LN"), parallel_attn_mlp.
    bridge.cfg.rotary_dim is None for GPT-NeoX even with partial rotary: use `HFModelFacts.rotary_dim`.
  * fired on both: hook_embed [b p d_model]; blocks.L.hook_resid_pre / hook_attn_out / hook_mlp_out /
    hook_resid_post [b p d_model]; blocks.L.attn.hook_q / hook_k / hook_v / hook_z [b p n_heads d_head];
    blocks.L.attn.hook_pattern / hook_attn_scores [b n_heads q_pos k_pos]; ln_final.hook_normalized [b p d_model];
    hook_unembed [b p d_vocab]. GPT-2 only: hook_pos_embed [b p d_model], blocks.L.hook_resid_mid. GPT-NeoX
    (parallel residual) has no hook_resid_mid; its hook_pos_embed and blocks.L.attn.hook_rot_q/rot_k exist in
    hook_dict but never fire. blocks.L.attn.hook_result is gated off (`set_use_attn_result(True)` first).
  * blocks.L.attn.hook_z is the input of the output projection (it equals blocks.L.attn.o.hook_in); a hook that
    returns an edited z (or edits it in place and returns None) changes the logits, and editing z head h equals
    editing o.hook_in head h exactly. Zeroing head h's z equals subtracting z_h @ W_O[h] from hook_attn_out
    (atol 1e-6), so zero ablation of one head via hook_z is well defined.
  * W_O per head: `bridge.blocks[L].attn.W_O` [n_heads d_head d_model] (`bridge.W_O` stacks [n_layers …]), with
    attn_out = einsum(z, W_O) + b_O (atol 1e-6). It is a view of the raw HF weight (GPT-2 c_proj.weight reshaped,
    GPT-NeoX dense.weight.T reshaped), i.e. the unprocessed layout. W_Q/W_K/W_V [n_heads d_model d_head], b_Q
    [n_heads d_head]. Bridge state-dict keys are native-style (`blocks.0.attn.q.weight`, …) for both.
  * `enable_compatibility_mode()` is NOT needed for hook_z or hook_pattern. It costs ~0.04 s on the tiny models but
    folds LayerNorm and centres weights: W_O changes and logits shift by a per-position constant (log-softmax
    unchanged to 1e-6). Leave it off so W_O matches hook_z.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from circuits.errors import WorkbenchError

if TYPE_CHECKING:  # importing transformer_lens costs seconds: only inside functions
    from transformer_lens.model_bridge import TransformerBridge

logger = logging.getLogger(__name__)

SUPPORTED_MODEL_TYPES = {"gpt2": "GPT-2", "gpt_neox": "GPT-NeoX / Pythia"}
POSITIONAL = {"gpt2": "standard", "gpt_neox": "rotary"}
CONFIG = "config.json"
SAFETENSORS, SAFETENSORS_INDEX = "model.safetensors", "model.safetensors.index.json"
BIN, BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"
WEIGHT_FILES = (SAFETENSORS, SAFETENSORS_INDEX, BIN, BIN_INDEX)  # transformers' order of preference
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model")
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
STEP_WORD = re.compile(r"(?:step|checkpoint|ckpt|iter|revision|rev)[-_]?(\d+)", re.IGNORECASE)
SIZE_KEYS = ("model_type", "vocab_size", "n_layer", "n_head", "n_embd", "n_positions", "num_hidden_layers",
             "num_attention_heads", "hidden_size", "intermediate_size", "max_position_embeddings")


@dataclass(frozen=True)
class Revision:
    """One checkpoint of a series: its training step and its `save_pretrained` folder."""

    step: int
    path: Path


@dataclass(frozen=True)
class HFFolder:
    """A checked model folder: its parsed config.json, model_type and weight files (shards listed)."""

    path: Path
    config: dict[str, Any]
    model_type: str
    weights: tuple[Path, ...]


@dataclass(frozen=True)
class HFModelFacts:
    """What probes need to know about a loaded Hugging Face model. `bos_token_id`: config.bos_token_id, else
    eos_token_id (Pythia and GPT-2 use the same id for both). `rotary_dim`: rotated dimensions per head (None
    for learned absolute positions)."""

    model_type: str
    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    n_ctx: int
    d_vocab: int
    bos_token_id: int
    positional: str
    rotary_dim: int | None
    normalization: str
    has_mlp: bool
    parallel_residual: bool


def step_from_name(name: str) -> int | None:
    """The step in a folder name: the number after a step word (step, checkpoint, ckpt, iter, rev, revision; the
    last such), else the last integer in the name, else None. `step1000`, `step-2000`, `rev_3000` → 1000, 2000,
    3000."""
    words = STEP_WORD.findall(name)
    if words:
        return int(words[-1])
    numbers = re.findall(r"\d+", name)
    return int(numbers[-1]) if numbers else None


def read_hf_config(path: Path | str) -> dict[str, Any]:
    """config.json of a model folder, parsed; a missing folder, a missing or unreadable config is an error."""
    path = Path(path)
    if not path.exists():
        raise WorkbenchError(f"no such folder: {path}; pass a folder saved with save_pretrained.")
    if not path.is_dir():
        raise WorkbenchError(f"{path} is not a folder; pass the folder that holds config.json, not a file.")
    if not (path / CONFIG).is_file():
        raise WorkbenchError(f"{path} has no {CONFIG}; pass a folder saved with save_pretrained "
                             "(or one folder whose subfolders are such revisions).")
    try:
        config = json.loads((path / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WorkbenchError(f"{path / CONFIG} is not readable JSON ({e}); "
                             "re-save the model with save_pretrained.") from e
    if not isinstance(config, dict):
        raise WorkbenchError(f"{path / CONFIG} is not a JSON object; re-save the model with save_pretrained.")
    return config


def _shards(index: Path) -> tuple[Path, ...]:
    """The shard files a sharded checkpoint's index names; each must exist."""
    try:
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise WorkbenchError(f"{index} is not a readable shard index ({e!r}); "
                             "re-save the model with save_pretrained.") from e
    missing = [n for n in names if not (index.parent / n).is_file()]
    if missing:
        raise WorkbenchError(f"{index} names shard(s) that are missing: {', '.join(missing)}; copy them into "
                             f"{index.parent} or re-save the model.")
    return tuple(index.parent / n for n in names)


def weight_files(path: Path) -> tuple[Path, ...]:
    """The weight file(s) transformers would load from `path` (safetensors before .bin, shards via the index)."""
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return _shards(path / name) if name.endswith(".index.json") else (path / name,)
    raise WorkbenchError(f"{path} has no weights file (expected one of {', '.join(WEIGHT_FILES)}); save the "
                         "model there with save_pretrained.")


def _check_safetensors(files: tuple[Path, ...]) -> None:
    """Open each safetensors header: a truncated or garbled file fails here, named."""
    from safetensors import safe_open

    for file in files:
        if file.suffix != ".safetensors":
            continue
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except Exception as e:  # SafetensorError derives from Exception only
            raise WorkbenchError(f"weights file {file} is corrupt or truncated ({e}); "
                                 "download or save it again.") from e


def check_hf_folder(path: Path | str) -> HFFolder:
    """Everything checkable without loading: config.json, a supported model_type (GPT-2, GPT-NeoX), weights
    present and, for safetensors, intact. Runs before TransformerLens is touched."""
    path = Path(path)
    config = read_hf_config(path)
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        supported = ", ".join(f"{k} ({v})" for k, v in SUPPORTED_MODEL_TYPES.items())
        raise WorkbenchError(f"{path / CONFIG} has model_type {model_type!r}, which the workbench does not support; "
                             f"supported: {supported}.")
    _check_token_ids(path, config)
    weights = weight_files(path)
    _check_safetensors(weights)
    return HFFolder(path, config, model_type, weights)


TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id")


def _check_token_ids(path: Path, config: dict[str, Any]) -> None:
    """Special token ids must be tokens of the model: a GPT-2 config that keeps the default bos_token_id 50256 with a
    small vocab_size otherwise dies in the embedding lookup (`IndexError: index out of range in self`). Each field
    may be an int, a list of ints (eos) or null."""
    vocab = config.get("vocab_size")
    if not isinstance(vocab, int):
        return
    bad = []
    for name in TOKEN_ID_FIELDS:
        value = config.get(name)
        ids = value if isinstance(value, list) else [value]
        if any(isinstance(i, int) and not 0 <= i < vocab for i in ids):
            bad.append(f"{name} {value}")
    if bad:
        fields = " and ".join(b.split()[0] for b in bad)
        raise WorkbenchError(f"{path / CONFIG} sets {', '.join(bad)}, outside its vocab_size {vocab} (token ids "
                             f"0–{vocab - 1}); set {fields} in config.json to ids below {vocab} (e.g. the id that "
                             f"starts a document, often 0), or save the model with a config whose special token ids "
                             f"fit its vocabulary.")


def _revision_folders(parent: Path) -> list[Path]:
    """The revision subfolders of a parent folder: those with a config.json or a number in their name."""
    subfolders = sorted(d for d in parent.iterdir() if d.is_dir() and not d.name.startswith("."))
    revisions = [d for d in subfolders if (d / CONFIG).is_file() or step_from_name(d.name) is not None]
    if not revisions:
        raise WorkbenchError(f"{parent} has no {CONFIG} and no revision subfolders (e.g. step1000/ holding a "
                             "config.json); pass a folder saved with save_pretrained, or a folder of such folders.")
    return revisions


def _numbered_step(folder: Path) -> int:
    step = step_from_name(folder.name)
    if step is None:
        raise WorkbenchError(f"folder {folder} has no number in its name, so its training step is unknown; "
                             "rename it to e.g. step1000.")
    return step


def _lone_step(folder: Path) -> int:
    """A single model folder: the number after a step word, else 0 (its digits are likely a model size)."""
    words = STEP_WORD.findall(folder.name)
    if words:
        return int(words[-1])
    logger.warning("%s: no step in the folder name (e.g. step1000); analysing it as step 0.", folder)
    return 0


def _check_series(revisions: list[Revision]) -> None:
    """Distinct steps, and one model throughout (model_type and sizes in config.json)."""
    seen: dict[int, Path] = {}
    for rev in revisions:
        if rev.step in seen:
            raise WorkbenchError(f"{seen[rev.step]} and {rev.path} both give step {rev.step}; "
                                 "pass each revision once, named by its own step.")
        seen[rev.step] = rev.path
    first = revisions[0]
    sizes = {k: read_hf_config(first.path).get(k) for k in SIZE_KEYS}
    for rev in revisions[1:]:
        other = {k: read_hf_config(rev.path).get(k) for k in SIZE_KEYS}
        differ = {k: (sizes[k], other[k]) for k in SIZE_KEYS if sizes[k] != other[k]}
        if differ:
            raise WorkbenchError(f"{rev.path} is not the same model as {first.path} (config.json differs: "
                                 f"{differ}); a series holds revisions of one model.")


def discover_revisions(paths: Sequence[Path | str]) -> list[Revision]:
    """The checkpoint series in `paths`, sorted by step: several model folders, or one folder of revision
    subfolders, or one model folder (layouts and step rules in the module docstring). Every folder is checked
    (`check_hf_folder`) before anything is loaded; each problem is one `WorkbenchError`."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise WorkbenchError("no Hugging Face folder given; pass model folders or one folder of revision folders.")
    parent = len(paths) == 1 and paths[0].is_dir() and not (paths[0] / CONFIG).is_file()
    if len(paths) == 1 and not parent:
        check_hf_folder(paths[0])
        return [Revision(_lone_step(paths[0]), paths[0])]
    folders = _revision_folders(paths[0]) if parent else paths
    for folder in folders:
        check_hf_folder(folder)
    revisions = [Revision(_numbered_step(f), f) for f in folders]
    _check_series(revisions)
    return sorted(revisions, key=lambda r: r.step)


@contextlib.contextmanager
def offline_hub() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 for the duration, also in huggingface_hub's flag (read from
    the environment once, at import); everything is restored afterwards."""
    import huggingface_hub.constants as hub

    saved_env, saved_flag = {k: os.environ.get(k) for k in OFFLINE_VARS}, hub.HF_HUB_OFFLINE
    os.environ.update({k: "1" for k in OFFLINE_VARS})
    hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = saved_flag
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No per-file "Loading weights" bar from transformers (the caller's loop over checkpoints has its own)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _load_hf_model(folder: HFFolder, device: str | torch.device) -> Any:
    """The HF causal LM, float32, eager attention (so hook_pattern fires); missing or mis-shaped weights fail."""
    from transformers import AutoModelForCausalLM

    try:
        with _quiet_transformers():
            model, info = AutoModelForCausalLM.from_pretrained(
                str(folder.path), local_files_only=True, attn_implementation="eager", dtype=torch.float32,
                output_loading_info=True)
    except Exception as e:  # corrupt .bin: OSError, UnpicklingError, RuntimeError, EOFError, …
        names = ", ".join(str(w) for w in folder.weights)
        raise WorkbenchError(f"could not load the weights {names} ({type(e).__name__}: {e}); download or save "
                             "them again.") from e
    bad = sorted(info["missing_keys"]) + sorted(str(k) for k in info["mismatched_keys"])
    if bad:
        shown = ", ".join(bad[:6]) + (" …" if len(bad) > 6 else "")
        raise WorkbenchError(f"the weights in {folder.path} do not fit its {CONFIG}: missing or mis-shaped "
                             f"{shown}; re-save the model with save_pretrained.")
    if info["unexpected_keys"]:
        logger.warning("%s: ignoring unexpected weights %s", folder.path, sorted(info["unexpected_keys"])[:6])
    return model.to(device).eval()


def _local_tokenizer(path: Path) -> Any:
    """The folder's own tokenizer, or None when it has no tokenizer files (or they do not load: logged)."""
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as e:  # noqa: BLE001 - the tokenizer is optional: probes use token tensors
        logger.warning("%s: tokenizer files do not load (%s: %s); continuing without a tokenizer.", path,
                       type(e).__name__, e)
        return None


def load_hf_bridge(path: Path | str, device: str | torch.device = "cpu") -> TransformerBridge:
    """One `save_pretrained` folder (GPT-2 or GPT-NeoX) as a `TransformerBridge` in eval mode, with no network:
    checked first (`check_hf_folder`), loaded by `AutoModelForCausalLM.from_pretrained(local_files_only=True)` and
    handed to TransformerLens as `hf_model=` (tokenizer handling in the module docstring)."""
    folder = check_hf_folder(Path(path))
    with offline_hub():
        model = _load_hf_model(folder, device)
        tokenizer = _local_tokenizer(folder.path)
        if tokenizer is not None:
            from transformer_lens.model_bridge import TransformerBridge

            bridge = TransformerBridge.boot_transformers(str(folder.path), hf_model=model, tokenizer=tokenizer,
                                                         device=device)
        else:
            from transformer_lens.model_bridge.sources import build_bridge_from_module

            from circuits.model.tl_adapter import architecture_of

            bridge = build_bridge_from_module(model, architecture_of(model.config),
                                              hf_config=model.config, tokenizer=None, device=device)
    return bridge.eval()


def _bos_token_id(config: Any) -> int:
    for name in ("bos_token_id", "eos_token_id"):
        value = getattr(config, name, None)
        value = value[0] if isinstance(value, list) and value else value
        if isinstance(value, int):
            return value
    raise WorkbenchError("the model's config.json has neither bos_token_id nor eos_token_id; add bos_token_id "
                         "(the id that starts a document) to config.json.")


def hf_model_facts(bridge: TransformerBridge) -> HFModelFacts:
    """The facts of a bridge made by `load_hf_bridge`: sizes from bridge.cfg, BOS and rotary width from the HF
    config. A bridge of another kind (e.g. one of our native models) is an error."""
    hf_config = getattr(bridge.original_model, "config", None)
    model_type = getattr(hf_config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise WorkbenchError(f"hf_model_facts needs a bridge made by load_hf_bridge (model_type gpt2 or gpt_neox), "
                             f"got model_type {model_type!r}; use the run's ModelConfig for native models.")
    from transformer_lens.utilities.hf_utils import get_rotary_pct_from_config

    cfg = bridge.cfg
    rotary = int(cfg.d_head * get_rotary_pct_from_config(hf_config)) if POSITIONAL[model_type] == "rotary" else None
    return HFModelFacts(
        model_type=model_type, n_layers=cfg.n_layers, n_heads=cfg.n_heads, d_model=cfg.d_model, d_head=cfg.d_head,
        n_ctx=cfg.n_ctx, d_vocab=cfg.d_vocab, bos_token_id=_bos_token_id(hf_config),
        positional=cfg.positional_embedding_type, rotary_dim=rotary, normalization=cfg.normalization_type,
        has_mlp=not cfg.attn_only, parallel_residual=bool(getattr(cfg, "parallel_attn_mlp", False)),
    )
