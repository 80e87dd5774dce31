"""The only package that imports Flask: routes, hand-over, error pages."""
