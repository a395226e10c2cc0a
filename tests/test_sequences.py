import itertools
import math

import pytest
import torch

from sslib.data.sequences import (
    HMM,
    MASK,
    NUM_SPECIAL,
    PAD,
    CharTokenizer,
    bert_corrupt,
    choose_mask,
    chunks,
    entropy_of_counts,
    stdlib_text,
)


def _joint_table(hmm: HMM, length: int):
    """p(x) of every sequence by the literal sum over hidden paths: (V**length,) and the seqs."""
    seqs = list(itertools.product(range(hmm.num_symbols), repeat=length))
    probs = []
    for x in seqs:
        total = 0.0
        for z in itertools.product(range(len(hmm.start)), repeat=length):
            p = hmm.start[z[0]] * hmm.emission[z[0], x[0]]
            for t in range(1, length):
                p = p * hmm.transition[z[t - 1], z[t]] * hmm.emission[z[t], x[t]]
            total += float(p)
        probs.append(total)
    return torch.tensor(probs, dtype=torch.float64), torch.tensor(seqs) + NUM_SPECIAL


@pytest.fixture(scope="module")
def small():
    hmm = HMM.random(num_states=3, num_symbols=3, transition_concentration=0.5, seed=1)
    return hmm, *_joint_table(hmm, 4)


def test_hmm_rows_are_distributions():
    hmm = HMM.random()
    for a in (hmm.start, hmm.transition, hmm.emission):
        torch.testing.assert_close(a.sum(-1), torch.ones_like(a.sum(-1)))
    torch.testing.assert_close(hmm.start @ hmm.transition, hmm.start)  # stationary


def test_log_prob_matches_enumeration(small):
    hmm, p, seqs = small
    torch.testing.assert_close(p.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(hmm.log_prob(seqs), p.log())


def test_conditional_entropy_matches_brute_force(small):
    hmm, p, seqs = small
    visible = torch.tensor([True, False, False, True])  # hide the middle two
    vis = visible.expand(len(seqs), -1)
    # brute force: group sequences by their visible tokens, renormalise within each group
    key = [tuple(s[visible].tolist()) for s in seqs]
    p_visible = {}
    for k, q in zip(key, p.tolist(), strict=True):
        p_visible[k] = p_visible.get(k, 0.0) + q
    for i in (1, 2):
        marginal = {}  # p(x_i, x_visible)
        for s, k, q in zip(seqs, key, p.tolist(), strict=True):
            marginal[(int(s[i]), k)] = marginal.get((int(s[i]), k), 0.0) + q
        h_brute = -sum(
            q * math.log(marginal[(int(s[i]), k)] / p_visible[k])
            for s, k, q in zip(seqs, key, p.tolist(), strict=True)
        )
        pred = hmm.predictive(seqs, vis)[:, i]  # (N, V)
        h_fb = -(p * pred.gather(1, (seqs[:, i] - NUM_SPECIAL)[:, None])[:, 0].log()).sum()
        torch.testing.assert_close(h_fb.item(), h_brute)
    # joint H(x_M | x_V) = H(X) - H(X_V)
    h_joint = -(p * (p.log() - hmm.log_prob(seqs, vis))).sum()
    h_x = -(p * p.log()).sum()
    h_v = -sum(q * math.log(p_visible[k]) for k, q in zip(key, p.tolist(), strict=True))
    torch.testing.assert_close(h_joint.item(), h_x.item() - h_v)


def test_masked_scores_order():
    hmm = HMM.random()
    x = hmm.sample(300, 16, torch.Generator().manual_seed(0))
    s = hmm.masked_scores(x, ~choose_mask(x, 0.5, torch.Generator().manual_seed(1)))
    assert s["joint"] < s["entropy"]  # subadditivity: the joint is below the sum of marginals
    assert abs(s["cross_entropy"] - s["entropy"]) < 0.05


def test_sample_shape_and_ids():
    x = HMM.random().sample(7, 5, torch.Generator().manual_seed(0))
    assert x.shape == (7, 5) and x.min() >= NUM_SPECIAL and x.max() < HMM.random().vocab_size


def test_choose_mask_keeps_ratio_and_skips_padding():
    tokens = torch.randint(NUM_SPECIAL, 20, (50, 40))
    lengths = torch.randint(5, 41, (50,))
    tokens[torch.arange(40)[None, :] >= lengths[:, None]] = PAD
    for rate in (0.0, 0.15, 0.5, 1.0):
        mask = choose_mask(tokens, rate, torch.Generator().manual_seed(0))
        assert not (mask & (tokens == PAD)).any()
        assert torch.equal(mask.sum(1), torch.round(rate * lengths.float()).long())
    rates = torch.rand(50)
    mask = choose_mask(tokens, rates)
    assert torch.equal(mask.sum(1), torch.round(rates * lengths.float()).long())


def test_bert_recipe_proportions():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(NUM_SPECIAL, 1000, (200, 500), generator=g)
    mask = choose_mask(tokens, 0.15, g)
    out = bert_corrupt(tokens, mask, 1000, generator=g)
    assert torch.equal(out[~mask], tokens[~mask])  # only chosen positions change
    n = mask.sum().item()
    masked = (out[mask] == MASK).sum().item() / n
    same = (out[mask] == tokens[mask]).sum().item() / n  # kept, or replaced by itself (1/998)
    assert abs(masked - 0.8) < 0.01 and abs(same - 0.1) < 0.01
    assert abs(1 - masked - same - 0.1) < 0.01
    assert out.min() >= MASK and (out != PAD).all()
    with pytest.raises(ValueError):
        bert_corrupt(tokens, mask, 1000, replace=0.6, keep=0.6)


def test_char_tokenizer_round_trip():
    text = stdlib_text(("json", "textwrap"))
    assert len(text) > 1000 and text.isascii()
    tok = CharTokenizer(text)
    ids = tok.encode(text[:200])
    assert tok.decode(ids) == text[:200]
    assert tok.decode(torch.tensor([PAD, MASK]), mask_char="?") == "?"
    assert chunks(ids, 64).shape == (3, 64)
    assert 0 < entropy_of_counts(ids, tok.vocab_size) < torch.log(torch.tensor(tok.vocab_size))
