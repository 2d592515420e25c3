import torch
from builders import tiny_config

from circuits.data.configs import training_lengths
from circuits.data.generators import make_sampler, repeated_sequences
from circuits.data.tokens import BOS
from circuits.presets import preset


def _period(row: torch.Tensor) -> tuple[int, int]:
    """(period L, first index of the periodic tail) of a repeated-tokens row: the smallest L whose last two periods
    match, and the earliest t from which row[t:] == row[t-L:-L]."""
    T = len(row)
    L = next(L for L in range(1, T // 2 + 1) if torch.equal(row[T - L :], row[T - 2 * L : T - L]))
    same = row[L:] == row[:-L]  # same[i]: row[i+L] == row[i]
    broken = (~same).nonzero()
    tail = L + (int(broken[-1]) + 1 if len(broken) else 0)
    return L, tail


def test_same_seed_same_batches_and_different_seed_different_batches():
    config = preset("attn-only-2l")
    sample = make_sampler(config.data, config.model)
    a = sample(16, torch.Generator().manual_seed(3))
    b = sample(16, torch.Generator().manual_seed(3))
    c = sample(16, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_repeated_tokens_vary_period_and_offset_and_never_use_held_out_periods():
    config = preset("attn-only-2l")
    batch = make_sampler(config.data, config.model)(256, torch.Generator().manual_seed(0))
    assert batch.shape == (256, config.data.seq_len)
    assert (batch[:, 0] == BOS).all() and (batch[:, 1:] != BOS).all()
    periods, starts = zip(*(_period(row) for row in batch), strict=False)
    allowed = set(training_lengths(config.data))
    # a chance match can make the detected period shorter than the planted one, never longer
    assert len(set(periods)) > 15 and len(set(starts)) > 15
    assert sum(p in allowed for p in periods) / len(periods) > 0.97
    assert not set(config.data.heldout_lengths) & set(periods)


def test_markov_chains_follow_a_per_sequence_bigram_matrix():
    config = tiny_config(data=dict(name="markov", markov_alpha=0.1), model=dict(d_vocab=5))
    batch = make_sampler(config.data, config.model)(64, torch.Generator().manual_seed(0))
    assert (batch[:, 0] == BOS).all() and (batch[:, 1:] >= 1).all() and (batch < config.model.d_vocab).all()
    # 4 states, sparse Dirichlet rows: a sequence's successors of a state are concentrated — far fewer distinct bigrams than uniform
    distinct = sum(len(set(zip(row[1:-1].tolist(), row[2:].tolist(), strict=False))) for row in batch) / len(batch)
    uniform = sum(len(set(zip(row[1:-1].tolist(), row[2:].tolist(), strict=False)))
                  for row in torch.randint(1, config.model.d_vocab, batch.shape)) / len(batch)
    assert distinct < 0.8 * uniform


def test_text_windows_are_bytes_shifted_past_bos(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"abcdefghijklmnopqrstuvwxyz" * 20)
    config = tiny_config(data=dict(name="text", text_path=str(path)), model=dict(d_vocab=257))
    batch = make_sampler(config.data, config.model)(4, torch.Generator().manual_seed(0))
    text = bytes((batch[0, 1:] - 1).tolist()).decode()
    assert batch[0, 0] == BOS and text in (path.read_text() * 2)


def test_probe_repeats_are_bos_then_copies():
    seqs = repeated_sequences(5, 7, 3, 32, torch.Generator().manual_seed(0))
    assert seqs.shape == (5, 22)
    assert torch.equal(seqs[:, 1:8], seqs[:, 8:15]) and torch.equal(seqs[:, 1:8], seqs[:, 15:22])


def test_fv_mix_mixes_task_episodes_and_repeats_in_the_configured_share():
    from circuits.data.tasks import INPUTS, OUTPUTS, default_suite

    config = preset("fv")
    sample = make_sampler(config.data, config.model)
    batch = sample(200, torch.Generator().manual_seed(0))
    assert torch.equal(batch, sample(200, torch.Generator().manual_seed(0)))
    assert batch.shape == (200, config.data.seq_len) and (batch[:, 0] == BOS).all()
    is_task = torch.isin(batch[:, 1::2], INPUTS).all(1) & torch.isin(batch[:, 2::2], OUTPUTS).all(1)
    assert is_task.sum() == round(200 * config.data.fv_fraction)
    answers = torch.stack([t.answer for t in default_suite().tasks])  # [task, input]
    for row in batch[is_task][:20]:  # every episode follows one task
        xs, ys = row[1:-1:2] - 1, row[2::2]
        assert (answers[:, xs] == ys).all(1).any()
