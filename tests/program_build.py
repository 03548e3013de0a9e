"""tests/programs/build.py, which builds the guest programs, for the tests that run them. Loaded
by path rather than imported, because tests/programs is not a package and a top-level module
named "build" would clash with the PyPA package of that name."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "xlate_test_programs_build", Path(__file__).resolve().parent / "programs/build.py"
)
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
