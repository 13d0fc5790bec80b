"""A --model-factory for tests/test_many.py that ends its process at once for the run trained with lr 0.01,
as an out-of-memory kill or a crash in native code would, and refuses the others with a one-line error."""

import os

from hjepa_report.errors import ModelBuildError


def build(state_dict, config):
    """Exit the process (status 3) for lr 0.01; refuse to build otherwise."""
    if (config.get("training") or {}).get("lr") == 0.01:
        os._exit(3)
    raise ModelBuildError("this test factory builds no network")
