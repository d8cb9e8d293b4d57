"""Is the field like the training data? Drift between collected drawings and the run's validation images.

`monitor.monitor` is the entry point: a two-sample test on the model's own features (`mmd`), what
differs in words (`features`, `compare`), and the same over time (`windows`). The reference images
are first drawn on a virtual canvas (`canvas_render`) so both sides go through one preprocessing.
"""
