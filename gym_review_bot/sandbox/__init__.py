"""Docker sandbox: boot a server the way NeMo Gym does, replay its example rollouts, run its tests.

This package is the only Docker caller of the bot. Import from its modules: `options` (flags,
SandboxOptions) and `catalogue` (GR201-GR207) load without the Docker SDK; `runner` (run_sandbox),
`docker_api` and `cleanup` load it.
"""
