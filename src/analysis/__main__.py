"""Entry point for `python -m analysis`."""

import gc

from analysis.cli import main

code = main()
# At its end the interpreter frees what it still holds, and the collections of its shutdown
# traverse all of it (pandas, matplotlib, nbconvert: about 0.15 s of every run). What is garbage
# is collected now, as at any exit, and the rest is frozen: freed as ever, but not traversed again.
gc.collect()
gc.freeze()
raise SystemExit(code)
