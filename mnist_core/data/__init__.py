"""Data: sources (sample, full MNIST, IDX folders), what may be read when shared, /255 and the seeded split,
a drawing or upload made into a 28x28 input, baselines, exploration, image helpers."""
