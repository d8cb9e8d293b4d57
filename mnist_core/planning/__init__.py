"""Planning: the learning curve (how many labels), hyperparameter search, labelling costs."""
