"""Entry point for `python -m analysis`."""

import gc
import os

# A run works in parallel through its processes (workers, kernels, the numbers and renders), as
# Dask's and joblib's workers do, and they set the same: with a BLAS thread pool in every process,
# the pools' threads spin after numpy and scipy load (about 0.3 s of CPU in each process that
# imports both), on the cores the other processes need. The workbook's figures are far too small
# for threaded BLAS to matter. A value set in the environment is kept.
for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(name, "1")

from analysis.cli import main  # noqa: E402 - after the environment above, which numpy reads as it loads

code = main()
# At its end the interpreter frees what it still holds, and the collections of its shutdown
# traverse all of it (pandas, matplotlib, nbconvert: about 0.15 s of every run). What is garbage
# is collected now, as at any exit, and the rest is frozen: freed as ever, but not traversed again.
gc.collect()
gc.freeze()
raise SystemExit(code)
