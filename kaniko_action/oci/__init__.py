"""Image data, with no HTTP in it: media types and digests (media.py), platforms (platform.py),
image indexes (index.py), OCI layouts on disk (layout.py) and `docker save` tarballs
(tarball.py)."""
