"""Many runs at once: `hjepa-report many` (find runs, report each in worker processes, skip the up-to-date ones)
and the sweep data the index page shows (which config values differ between runs).

Modules: `discover` (which folders are runs, the run list for a Slurm array), `fingerprint` (is a report up to
date), `runner` (the worker processes), `data` (the sweep table read from report.json files). Nothing is
imported here, so that render/index.py can use `sweep.data` without pulling in the runner.
"""
