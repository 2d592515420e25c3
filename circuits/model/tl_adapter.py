"""The one place that reaches into TransformerLens beyond its public API (4.3).

A tokenizer-less Hugging Face model becomes a bridge through `build_bridge_from_module`, which needs the
architecture name TransformerLens derives from the HF config; the only function that derives it,
`determine_architecture_from_hf_config`, lives in the private `sources._hf_format`. `tests/test_hf.py` imports it
here and checks it on GPT-2 and GPT-NeoX configs, so a TransformerLens release that moves it fails that test, not a
user's analysis.
"""
from __future__ import annotations

from typing import Any


def architecture_of(hf_config: Any) -> str:
    """TransformerLens's architecture name for a Hugging Face config (e.g. "GPT2LMHeadModel")."""
    from transformer_lens.model_bridge.sources._hf_format import determine_architecture_from_hf_config

    return determine_architecture_from_hf_config(hf_config)
