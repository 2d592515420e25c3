"""Solutions to notebook 01's exercises (checked by `probes.teaching.checks`; CI runs the notebook with them).

Each function is pasted, as written here, into the exercise cell of the same name, so it uses only what the
notebook imports: torch and einops' einsum.
"""
import torch
from einops import einsum


def previous_token_score(patterns, tokens):
    """Mean attention from position i to i − 1 over every batch row and query i ≥ 1 (Olsson et al. 2022)."""
    below_diagonal = patterns.diagonal(offset=-1, dim1=-2, dim2=-1)  # [layer, batch, head, q − 1]: A[i, i − 1]
    return below_diagonal.mean(dim=(1, 3))  # over batch and query positions → [layer, head]


def induction_score(patterns, tokens):
    """Mean attention to the token after an earlier occurrence of the current token, over the query rows that
    have one (Olsson et al. 2022): target[b, i, j] = (tokens[b, j − 1] == tokens[b, i]) for 1 ≤ j ≤ i."""
    same = tokens[:, :, None] == tokens[:, None, :]  # [batch, q, k]: token q equals token k
    earlier = same & torch.ones_like(same[0]).tril(-1)  # ... and k < q
    target = torch.zeros_like(earlier)
    target[:, :, 1:] = earlier[:, :, :-1]  # the key one after the earlier occurrence
    mass = einsum(patterns, target.to(patterns.dtype), "layer batch head q k, batch q k -> layer batch head q")
    rows = target.any(-1).to(patterns.dtype)  # the query rows that have a target
    return einsum(mass, rows, "layer batch head q, batch q -> layer head") / rows.sum()
