"""`python -m infra_gen`: the same as the `infra-gen` console script."""

from .entry import main

main()
