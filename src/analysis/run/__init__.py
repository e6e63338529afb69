"""The orchestration: a run of a cadence's notebooks.

Takes params/runs.yml and the command line's options; checks the setup (validate), ingests,
plans the jobs, executes each notebook with papermill on a local process pool or a Dask cluster
(runner), with kernels forked from a warm kernel server where the system allows (kernels),
exports the briefs and publishes the run in one step. It may use every stage; none uses it.
"""
