"""spraycc: spread the compile steps of a C/C++ build over a batch-scheduled CPU cluster.

Kept empty on purpose: `spraycc run` starts once per compile and must not pay for imports.
"""

__version__ = "0.1.0"

# Stands for the executor's private temp dir in the argv elements and env values of a remote
# step (an argv element can never hold a NUL); the executor puts the real path in its place.
# Here because the step modules that write it and the executor and protocol that read it all
# load this package anyway, at no cost.
TEMP_DIR = "\x00"
