"""The `sgbp` command line: theory, explore, figures, reproduce."""
