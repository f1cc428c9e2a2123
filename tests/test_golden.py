"""The read side of saved runs, byte for byte: a change of structure changes no output.

The outputs were written by ``python tests/golden_outputs.py`` from the code they describe;
rewrite them only for a change of output that is meant, and say so in the commit.
"""

import golden_outputs
import pytest

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def outputs():
    return golden_outputs.outputs()


def test_every_golden_file_is_still_written(outputs):
    assert sorted(outputs) == sorted(p.name for p in golden_outputs.OUT.iterdir())


@pytest.mark.parametrize("name", sorted(p.name for p in golden_outputs.OUT.iterdir()))
def test_output_is_byte_identical(outputs, name):
    assert outputs[name] == (golden_outputs.OUT / name).read_text()
