"""MNIST Workflow Studio core: data, models, training, evaluation and storage, with no UI."""
