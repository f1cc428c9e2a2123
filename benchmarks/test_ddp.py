"""Data-parallel training (DistributedDataParallel), one process per device: launch with
torchrun for several workers; plain pytest runs each case as a group of one worker."""

import pytest

from accelbench.workloads.ddp import DdpResNet18, DdpTransformer


@pytest.mark.workload.with_args(DdpResNet18)
def test_ddp_resnet18(measure):
    measure()


@pytest.mark.workload.with_args(DdpTransformer)
def test_ddp_transformer(measure):
    measure()
