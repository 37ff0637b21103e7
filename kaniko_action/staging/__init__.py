"""What goes into the chroot and what comes out: the build context as kaniko reads it
(context.py), the Dockerfile, certificates, helper files and the base-image cache (files.py),
build secrets (secrets.py), named build contexts (named.py), the local layer cache in and out
(layer_cache.py) with `RUN --mount=type=cache` contents (cache_mounts.py); and, out of it without following a link, the image files the build wrote
(collect.py, exports.py) and the image's filesystem for `outputs` type=local/tar (rootfs.py)."""
