"""HTTP access: a bearer token per principal, compared in constant time; none means no access."""

from __future__ import annotations

import hmac

from fastmcp.server.auth import AccessToken, TokenVerifier
from pydantic import SecretStr


class PrincipalTokenVerifier(TokenVerifier):
    """Accepts the tokens of ``settings.mcp.tokens``; the token names its principal."""

    def __init__(self, tokens: dict[str, SecretStr]) -> None:
        super().__init__()
        self._tokens = {name: secret.get_secret_value() for name, secret in tokens.items()}

    async def verify_token(self, token: str) -> AccessToken | None:
        for principal, expected in self._tokens.items():
            if expected and hmac.compare_digest(token.encode(), expected.encode()):
                return AccessToken(token=token, client_id=principal, scopes=[])
        return None
