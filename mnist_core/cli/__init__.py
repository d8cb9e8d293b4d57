"""The command line (python -m mnist_core): one module per subcommand on top of the domain packages."""
