"""The model lifecycle: which stored versions are served, loaded, failed, or gone.

:mod:`.loading` verifies and loads one version (integrity, golden self-test); :mod:`.registry`
holds every version the service knows and resolves requests to one; :mod:`.poller` refreshes the
registry from the store in the background, so a publish needs no restart; :mod:`.reload_signal`
carries an admin reload to every worker process of one server.
"""
