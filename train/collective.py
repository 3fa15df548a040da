"""Collective operations over a multi-worker strategy's workers (`vaedge.train.distributed`): sums and
the chief's values, as float64 numpy on every worker."""

from __future__ import annotations

import json

from vaedge.train.cluster import Cluster


def broadcast_arrays(strategy, cluster: Cluster, arrays: list) -> list:
    """The chief's arrays on every worker (a sum where the others add zeros), as float64 numpy."""
    import numpy as np

    return all_reduce_sum(strategy, [np.asarray(a, np.float64) * (1.0 if cluster.is_chief else 0.0) for a in arrays])


def all_reduce_sum(strategy, arrays: list) -> list:
    """Each array summed over every worker (same shapes on all), as float64 numpy."""
    import numpy as np
    import tensorflow as tf

    tensors = [tf.constant(np.asarray(a, np.float64)) for a in arrays]

    def replica(tensors):
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tensors)

    reduced = tf.function(lambda: strategy.run(replica, args=(tensors,)))()
    return [np.asarray(strategy.experimental_local_results(r)[0]) for r in reduced]


def broadcast_json(strategy, cluster: Cluster, value) -> object:
    """The chief's JSON-able `value` on every worker."""
    import numpy as np

    raw = json.dumps(value).encode() if cluster.is_chief else b""
    (length,) = broadcast_arrays(strategy, cluster, [np.array([len(raw)])])
    buffer = np.zeros(int(length[0]), np.float64)
    buffer[: len(raw)] = np.frombuffer(raw, np.uint8)
    (received,) = broadcast_arrays(strategy, cluster, [buffer])
    return json.loads(received.astype(np.uint8).tobytes())
