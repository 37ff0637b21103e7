"""Helpers that know nothing of builds: filesystem walks, removal and reads that never follow
a link or cross a mount (fs.py), copying files without sharing them (filecopy.py), PEM
certificate bundles (pem.py), the libc calls and /proc fields the standard library lacks
(linux.py), and the job's user with what its mode bits allow (users.py)."""
