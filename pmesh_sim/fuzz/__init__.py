"""Differential fuzzing: random scenarios on both backends, shrunk to minimal disagreements.

- :mod:`~pmesh_sim.fuzz.generate`: hypothesis strategies for valid scenario documents (and
  broken ones, which must give a clear file error);
- :mod:`~pmesh_sim.fuzz.check`: one document's verdict: the simulation (bounded in wall time),
  its stability under small timer shifts, a real nats-server, the comparison;
- :mod:`~pmesh_sim.fuzz.command`: ``pmesh-sim fuzz``: worker processes, each owning one
  nats-server, hypothesis shrinking, the files in ``scenarios/found/``.

hypothesis is imported only by the modules that need it (it is in the ``test`` extra).
"""

from __future__ import annotations

from ..errors import PmeshError

__all__ = ["need_hypothesis"]


def need_hypothesis():
    """The ``hypothesis`` module, or a clear error saying how to install it."""
    try:
        import hypothesis
    except ImportError:
        raise PmeshError("the fuzzer needs hypothesis: pip install 'pmesh-sim[test]' "
                         "(or pip install hypothesis)") from None
    return hypothesis
