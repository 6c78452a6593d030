"""What the engine does to make CPU training fast: kept freed memory, fused Adam."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
import torch

from dvae_cli.engine.models import build_model
from dvae_cli.engine.optim import adam

# Minor page faults of allocating, touching and freeing a 64 MB buffer 10 times (after
# 10 rounds in which the heap settles), before and after keep_freed_memory(), in a
# fresh process (this one's allocator may already be set by an earlier test's Trainer).
PAGE_FAULTS = """
import resource, torch
from dvae_cli.engine.device import keep_freed_memory

def faults():
    for _ in range(10):
        torch.empty(16 * 2**20).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.empty(16 * 2**20).fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

default = faults()
changed = keep_freed_memory()
print(default, faults(), changed)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's malloc only")
def test_kept_freed_memory_stops_the_page_faults_of_every_step():
    out = subprocess.run([sys.executable, "-c", PAGE_FAULTS], capture_output=True, text=True, check=True)
    default, kept, changed = out.stdout.split()
    assert changed == "True"
    # by default each 64 MB buffer is mapped afresh: 16,384 pages faulted in every time
    assert int(default) > 10 * 10_000
    assert int(kept) < int(default) / 20


def test_adam_is_fused_where_torch_has_the_kernel_and_steps_like_plain_adam():
    torch.manual_seed(0)
    model = build_model([1, 64, 64], 4)
    twin = build_model([1, 64, 64], 4)
    twin.load_state_dict(model.state_dict())
    start = [p.detach().clone() for p in model.parameters()]
    ours, plain = adam(model.parameters(), 1e-3), torch.optim.Adam(twin.parameters(), 1e-3)
    assert ours.defaults["fused"] is True   # torch 2.14 has the CPU kernel
    x = torch.rand(8, 1, 64, 64)
    for _ in range(3):
        for net, optimizer in ((model, ours), (twin, plain)):
            optimizer.zero_grad()
            net.eval()(x).reconstruction.sum().backward()
            optimizer.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert all(not torch.equal(p, p0) for p, p0 in zip(model.parameters(), start, strict=True))  # it stepped
