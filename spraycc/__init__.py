"""spraycc: spread the compile steps of a C/C++ build over a batch-scheduled CPU cluster.

Kept empty on purpose: `spraycc run` starts once per compile and must not pay for imports.
"""

__version__ = "0.1.0"
