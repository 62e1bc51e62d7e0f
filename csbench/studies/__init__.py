"""Studies: per-trial searches run by the driver (:mod:`csbench.driver`).

:mod:`csbench.studies.search` is the search engine and the checks both kinds share;
:mod:`csbench.studies.minimal_m` (minimal m on nested designs) and
:mod:`csbench.studies.maximal_k` (maximal k on nested supports) are the two kinds,
each registered in :data:`csbench.driver.KINDS` with its plan, block and summary.
"""
