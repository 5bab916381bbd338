"""Server-rendered admin pages under ``/admin``: the same services as the admin REST API.

Signing in exchanges an admin API key for a signed session cookie (``auth``); every form
carries a per-session CSRF token. Pages read through the experiment and reporting
services and never render key material: versions show only "key configured".
"""
