"""Hub extensions: the platform's authenticator, role spawner and hub secrets.

Only glue between JupyterHub and ``reprotech_core``; the configuration itself is the
declarative ``hub/jupyterhub_config.py``. No business logic lives here.
"""
