"""Per-trial status names and their integer codes: one declaration, read by the decoders and the kernels.

A kernel writes the integer code of a trial's status (its index in :data:`STATUSES`);
:class:`csbench.decoders.base.DecodeResult` turns codes into names.
"""

#: Per-trial status names; a kernel writes the integer code (index in this tuple).
STATUSES = ("ok", "max_iter", "diverged", "nonfinite", "dependent_atoms", "error")
OK, MAX_ITER, DIVERGED, NONFINITE, DEPENDENT_ATOMS, ERROR = range(len(STATUSES))

#: What each status means for a trial's result, and what to do (printed after runs and in reports).
MEANING = {
    "ok": "the decoder finished normally",
    "max_iter": "the decoder stopped at its iteration cap before its own convergence test passed; the trial is "
                "scored on its last iterate (it counts as a success only if that estimate meets the criterion). "
                "Raise the decoder's max_iter, or see its docs (docs/decoders.md) for why it converges slowly here",
    "diverged": "the iteration blew up (e.g. AMP on a matrix far from i.i.d.); the trial is scored on its last "
                "finite iterate or zeros. Try damping, or a decoder made for such matrices",
    "nonfinite": "the estimate went non-finite and was replaced by zeros (scored as such)",
    "dependent_atoms": "the next atom was linearly dependent on the selected ones; x is the fit on the atoms before "
                       "it (scored as such)",
    "error": "the decoder raised an exception; the trial is scored as x = 0 and the message is stored with its "
             "task (`csbench status RUN` lists it)",
}


def explain(counts):
    """One line per non-``ok`` status in ``counts`` (status -> number of trials): how many and what it means."""
    return [f"{n} trial(s) {status}: {MEANING.get(status, 'see docs/decoders.md')}."
            for status, n in sorted(counts.items()) if status != "ok" and n]
