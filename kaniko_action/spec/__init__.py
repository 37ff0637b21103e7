"""The action's inputs -> a frozen BuildSpec, before anything is created: the input table and
value parsing (inputs.py), the spec itself (build_spec.py), build-push-action's inputs mapped to
kaniko (buildx.py), its `cache-from`/`cache-to` (cache.py; type=gha's directories and keys: gha.py) and `build-contexts` (contexts.py),
image references (references.py), paths confined to the workspace (paths.py), the `outputs`
input (exports.py), build secrets (secrets.py) and the login (login.py). Every refusal names the
input."""
