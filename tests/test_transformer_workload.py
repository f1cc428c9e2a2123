"""The Transformer encoder: padded batches of variable-length sequences, where padding
changes nothing that is measured or compared.

(Named apart from ``benchmarks/test_transformer.py``: pytest imports both as top-level
modules, and two ``test_transformer`` modules in one process clash.)
"""

import numpy as np
import pytest
import torch

from accelbench.backends.torch.devices import get_device
from accelbench.core.spec import CaseSpec
from accelbench.workloads.transformer import PAD, TransformerEncoderWorkload

SIZE = TransformerEncoderWorkload.SIZES["smoke"]


def make(phase="infer", dtype="fp32"):
    spec = CaseSpec("torch", "transformer", "cpu", phase, dtype, "smoke")
    return TransformerEncoderWorkload(spec, get_device("cpu"))


def repad(workload, seed=7):
    """Put other (non-pad) token ids at every padded position."""
    mask = workload.padding_mask
    generator = torch.Generator().manual_seed(seed)
    others = torch.randint(PAD + 1, SIZE.vocab, (int(mask.sum()),), generator=generator)
    assert not torch.equal(others, workload.tokens[mask])
    workload.tokens[mask] = others


def test_a_batch_holds_sequences_of_different_lengths_padded_to_the_maximum():
    workload = make()
    lengths = (~workload.padding_mask).sum(dim=1)
    assert workload.tokens.shape == (SIZE.batch, SIZE.max_length)
    assert len(set(lengths.tolist())) > 1
    assert all(SIZE.min_length <= n <= SIZE.max_length for n in lengths.tolist())
    assert (workload.tokens[workload.padding_mask] == PAD).all()
    assert (workload.tokens[~workload.padding_mask] != PAD).all()


def test_the_same_case_gets_the_same_batch_every_time():
    a, b = make(), make()
    assert torch.equal(a.tokens, b.tokens)
    assert torch.equal(a.padding_mask, b.padding_mask)


def test_throughput_counts_real_tokens_only():
    workload = make()
    real = int((~workload.padding_mask).sum())
    assert real < SIZE.batch * SIZE.max_length
    assert workload.items_per_step == real
    assert workload.item_unit == "tokens"
    assert workload.shapes()["real_tokens"] == real


@pytest.mark.parametrize("phase", ["infer", "train"])
def test_pad_tokens_do_not_change_anything_at_real_positions(phase):
    """Output at real positions; in training also the loss and the gradient compared."""
    workload = make(phase)
    before = workload.parity_outputs()
    repad(workload)
    after = workload.parity_outputs()
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_without_the_padding_mask_pad_tokens_would_change_real_positions():
    """The check above has teeth: the mask is what keeps the pads out."""
    workload = make()
    no_mask = torch.zeros_like(workload.padding_mask)
    with torch.inference_mode():
        before = workload.model(workload.tokens, no_mask)[~workload.padding_mask]
        repad(workload)
        after = workload.model(workload.tokens, no_mask)[~workload.padding_mask]
    assert not torch.allclose(before, after, rtol=1e-3, atol=1e-3)


def test_parity_compares_real_positions_only():
    workload = make()
    real = int((~workload.padding_mask).sum())
    assert workload.parity_outputs()["output"].shape == (real, SIZE.vocab)


def test_the_loss_is_cross_entropy_over_real_tokens_only():
    workload = make("train")
    real = ~workload.padding_mask
    with torch.no_grad():
        logits = workload.forward()
        loss = workload.loss(logits, workload.targets)
        expected = torch.nn.functional.cross_entropy(logits[real], workload.targets[real])
    torch.testing.assert_close(loss, expected)


def test_flops_are_counted_through_the_unfused_path_and_match_the_matmuls():
    """Forward: the layers' projections and feed-forward, attention's two L x L matmuls and
    the head, over padded shapes (what every device computes); training is three times that.
    """
    s = SIZE
    tokens = s.batch * s.max_length
    per_layer = 2 * tokens * (4 * s.d_model**2 + 2 * s.d_model * s.feedforward)
    per_layer += 4 * s.batch * s.max_length**2 * s.d_model
    forward = s.layers * per_layer + 2 * tokens * s.d_model * s.vocab
    assert make("infer").flops_per_step() == forward
    assert make("train").flops_per_step() == 3 * forward
    assert torch.backends.mha.get_fastpath_enabled()  # restored after counting


@pytest.mark.parametrize("phase", ["infer", "train"])
def test_a_step_runs_in_bf16_under_autocast(phase):
    workload = make(phase, dtype="bf16")
    workload.step()
    assert workload.dtype_ran() == "bf16"
