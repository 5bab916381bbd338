"""The partner portal's pages (``/partner``): a provider's own experiments, traces and webhooks."""
