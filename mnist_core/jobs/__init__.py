"""Background jobs on a Dask cluster: the job the app follows (job), the cluster it runs on
(cluster), what runs on a worker (remote), training split into train-on-a-worker and
save-in-the-app (training), label audits and learning curves as parallel tasks saved by the app
(audit, curve), a robustness sweep and the field monitor loaded and saved by the app
(robustness, monitor), the per-session queue (queue), progress bars (progress)."""
