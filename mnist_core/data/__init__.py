"""Data: sources (sample, full MNIST, IDX folders), what may be read when shared, /255 and the seeded split, exploration, image helpers."""
