"""The disposable chroot and the runner it protects: becoming root (privileges.py), checks
before any work (preflight.py), kaniko's own files (kaniko_files.py), work directories and
their locks (workdirs.py), the chroot's skeleton (chroot.py) and where things are in it
(layout.py), what RUN steps get and the init of their namespaces (namespaces.py, nsinit.py),
the guardian that cleans up after a killed run (guardian.py), finding and
stopping the build's processes (processes.py), taking it all down (teardown.py), and scratch
directories of the action's own (scratch.py)."""
