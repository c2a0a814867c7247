"""`python -m spraycc`: the same entry as the `spraycc` executable."""

from spraycc.entry import main

main()
