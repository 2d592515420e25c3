"""Tiny Hugging Face checkpoints for tests: GPT-2 and GPT-NeoX (Pythia layout), saved with `save_pretrained`,
no tokenizer, no network. 2 layers x 4 heads, d_model 32, vocab 97."""
from __future__ import annotations

from pathlib import Path

import torch

VOCAB = 97
N_CTX = 64
ARCHS = ("gpt2", "gpt_neox")


def _gpt2_model(seed: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=VOCAB, n_positions=N_CTX, n_embd=32, n_layer=2, n_head=4, bos_token_id=0,
                     eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(seed)
    return GPT2LMHeadModel(cfg).eval()


def _neox_model(seed: int):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    cfg = GPTNeoXConfig(vocab_size=VOCAB, max_position_embeddings=N_CTX, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=128, rotary_pct=0.25, bos_token_id=0,
                        eos_token_id=0, use_parallel_residual=True, tie_word_embeddings=False)
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(cfg).eval()


def _save(model, folder: Path) -> Path:
    folder = Path(folder)
    model.save_pretrained(folder)
    return folder


def make_tiny_gpt2(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised 2-layer GPT-2 (learned positions, tied embeddings) saved to `folder`."""
    return _save(_gpt2_model(seed), folder)


def make_tiny_neox(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised 2-layer GPT-NeoX (rotary on 25% of d_head, parallel residual) saved to `folder`."""
    return _save(_neox_model(seed), folder)


def make_tiny(arch: str, folder: Path, seed: int = 0) -> Path:
    """`make_tiny_gpt2` or `make_tiny_neox` by model_type."""
    return {"gpt2": make_tiny_gpt2, "gpt_neox": make_tiny_neox}[arch](folder, seed)


def make_revision_series(folder: Path, arch: str, steps: tuple[int, ...] = (0, 10, 20)) -> list[Path]:
    """One parent folder holding `step{N}` revisions of the same architecture; revision N is re-initialised
    with seed N, so every revision has different weights."""
    return [make_tiny(arch, Path(folder) / f"step{step}", seed=step) for step in steps]


def add_tokenizer(folder: Path) -> Path:
    """Save a word-level tokenizer over the whole vocabulary (`t0` … `t96`, `t0` = BOS = EOS) into `folder`,
    built offline with the `tokenizers` library."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(WordLevel({f"t{i}": i for i in range(VOCAB)}, unk_token="t1"))
    core.pre_tokenizer = WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="t0", eos_token="t0", unk_token="t1",
                                        pad_token="t0")
    tokenizer.save_pretrained(folder)
    return Path(folder)
