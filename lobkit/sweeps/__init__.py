"""Parameter sweeps: grids (:mod:`.grid`), the joblib and Dask runner (:mod:`.runner`), results and heatmaps
(:mod:`.results`). See ``docs/sweeps.md``."""
