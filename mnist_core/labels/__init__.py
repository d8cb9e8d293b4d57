"""Label quality: audit a data source's labels (K-fold + cleanlab), store review decisions, apply them."""
