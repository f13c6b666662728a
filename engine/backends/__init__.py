"""Model runtimes. Backends are plugins (``register_backends``): the built-in "torch" and
"mlx" ones are registered by the built-in backends plugin and import their framework
lazily; the plugin layer's ``registry.load_backend`` picks the one ``config.backend`` names.
"""
