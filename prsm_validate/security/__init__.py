"""Security scenarios' helpers: the authentication sweep, token variants, the secrets canary.

The sweep reads the operations of the target's own OpenAPI document (the session's
:class:`~prsm_validate.client.openapi.Contract`, read once by the ``prsm_deployment`` fixture),
else of its API profile, and calls each with every bad-token variant.
"""
