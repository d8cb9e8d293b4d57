"""Hyperparameter search with Optuna: the search space as data, studies shared through a
storage, and a worker loop that yields small dict records.

    space = default_space("cnn").with_param("batch_size", enabled=True)
    for record in run_search("cnn-1", None, base, space, n_trials=20, data="sample", stop=event):
        ...   # trial_start, epoch..., trial_end, ..., then one search_end (all plain dicts)

A study lives in an Optuna storage: by default a SQLite file in the studio home
(`studies.db`), or any SQLAlchemy URL Optuna accepts (e.g. `postgresql://user@host/db`).
Every worker that opens the same study in the same storage — the app's background job, or
`python -m mnist_core tune` on this or another machine — shares its trials. The search space,
the base config, the objective and the data source are stored with the study, so a resumed
study and every worker search the same space on the same validation split.

A worker marks its running trial alive every few seconds (Optuna's heartbeat); a worker that
dies (kill -9, a lost machine) leaves a trial that the next worker to start a trial marks failed.
Optuna is imported lazily (inside the functions that use it): the command line builds the
`tune` parser for every command.

The modules, one idea each:
  params      what can be searched: each parameter's sampling, help and widget range
  space       a search space (validated), the default space and base settings per family
  space_text  a space from text: a JSON file, a list of names, NAME=LOW:HIGH ranges
  storage     where studies live: storage URLs, SQLite/PostgreSQL, opening a storage
  study       creating, joining, loading and deleting a study; the settings stored with it
  results     what a study found: summaries, the trials table, importances, listing studies
  trial       one trial: trained epoch by epoch, kept alive by a heartbeat, told how it ended
  worker      the search loop (budget, pruner, sampler) and the job work running it
  best        the best trial's config, retrained and saved as a normal run
"""


class TuneError(ValueError):
    """A search that cannot run as asked (bad space, storage, study); the message says why."""
