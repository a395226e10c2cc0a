import torch
import torch.nn.functional as F

from sslib import nets, train
from sslib.data.sequences import HMM, MASK, PAD, choose_mask
from sslib.methods.mlm import MLM


def _model(vocab_size=12, **kwargs):
    return MLM(nets.TokenTransformer(vocab_size, max_len=16, dim=32, depth=1), **kwargs)


def test_loss_and_embed_shapes():
    m = _model()
    ids = torch.randint(2, 12, (8, 16))
    ids[0, -4:] = PAD
    loss, metrics = m.loss((ids,))
    assert loss.ndim == 0 and torch.isfinite(loss) and 0 <= metrics["accuracy"] <= 1
    assert m.embed(ids).shape == (8, 32)
    mask = choose_mask(ids, 0.5)
    assert m.masked_cross_entropy(ids, mask).shape == (int(mask.sum()),)


def test_padding_is_ignored():
    m = _model().eval()
    ids = torch.randint(2, 12, (1, 10))
    padded = torch.cat([ids, torch.full((1, 6), PAD)], dim=1)
    torch.testing.assert_close(m.encoder(padded)[:, :10], m.encoder(ids), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(m.embed(padded), m.embed(ids), atol=1e-5, rtol=1e-5)


def _probabilities_of_every_answer(m, ids, mask, cross_entropy):
    """``exp(-loss)`` at each hidden position with every id of the vocabulary as its answer.

    Shape: ``(vocab_size, number of hidden positions)``. If the model sees only the visible
    tokens, each column is one distribution q(. | visible) read at every id: it sums to 1.
    """
    answers = [ids.masked_fill(mask, v) for v in range(m.encoder.vocab_size)]
    return torch.stack([(-cross_entropy(tokens, mask)).exp() for tokens in answers])


def test_masked_cross_entropy_hides_the_tokens():
    torch.manual_seed(0)
    m = _model().eval()
    ids = torch.randint(2, 12, (4, 16))
    mask = choose_mask(ids, 0.3)
    probs = _probabilities_of_every_answer(m, ids, mask, m.masked_cross_entropy)
    torch.testing.assert_close(probs.sum(0), torch.ones(int(mask.sum())))
    # and it is the model's cross-entropy with [MASK] at the hidden positions
    log_q = m.logits(ids.masked_fill(mask, MASK)).log_softmax(-1)[mask]
    expected = -log_q.gather(1, ids[mask][:, None]).squeeze(1)
    torch.testing.assert_close(m.masked_cross_entropy(ids, mask), expected)

    # The check can fail: a version that lets the model see the tokens it must predict is
    # refused (each answer is scored by a different distribution, so the columns do not sum
    # to 1).
    def leaky(tokens, mask):
        return F.cross_entropy(m.logits(tokens)[mask], tokens[mask], reduction="none")

    with torch.no_grad():
        leaked = _probabilities_of_every_answer(m, ids, mask, leaky)
    assert not torch.allclose(leaked.sum(0), torch.ones(int(mask.sum())), atol=1e-2)


def test_learns_a_repeating_language():
    hmm = HMM.random(num_states=2, num_symbols=4, transition_concentration=0.05, seed=0)
    m = _model(hmm.vocab_size, rate=0.3, replace=0.0, keep=0.0)
    history = train.fit(m, hmm.stream(16), steps=60, batch_size=32, lr=3e-3, progress=False)
    assert history["loss"][-1] < history["loss"][0] - 0.2
