"""Registries, for the executor and for the action's own requests: the docker config the
executor gets (credentials.py), kaniko's credential helpers run in the chroot (helpers.py),
authentication (auth.py, pure), the HTTP client (client.py) and the client set up as the
executor is (access.py)."""
