"""What operators ask of a deployment: find it, see its state, replay what failed, follow it.

The ``logstream`` command (:mod:`logstream.cli`) is a thin layer over these
modules; each reads the same settings and stores as the functions.
"""
