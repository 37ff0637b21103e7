"""Running the kaniko executor: its command line and environment (argv.py), starting it in the
chroot and streaming its output (process.py), asking it about itself (probe.py), reading its
log (log.py) and its registry errors (diagnosis.py), and what it reported through its digest
files (results.py)."""
