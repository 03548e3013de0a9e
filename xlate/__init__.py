"""xlate: runs x86-64 Linux programs by dynamic binary translation (see README.md).

The Python API is xlate.machine.Machine."""

__version__ = "0.1.0"
