"""Builds the C runtime (csrc/) as the cffi extension xlate._runtime."""

from setuptools import setup

setup(cffi_modules=["csrc/build.py:ffibuilder"])
