"""Per-trial status names and their integer codes: one declaration, read by the decoders and the kernels.

A kernel writes the integer code of a trial's status (its index in :data:`STATUSES`);
:class:`csbench.decoders.base.DecodeResult` turns codes into names.
"""

#: Per-trial status names; a kernel writes the integer code (index in this tuple).
STATUSES = ("ok", "max_iter", "diverged", "nonfinite", "dependent_atoms", "error")
OK, MAX_ITER, DIVERGED, NONFINITE, DEPENDENT_ATOMS, ERROR = range(len(STATUSES))
