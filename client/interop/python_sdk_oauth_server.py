"""An OAuth-protected MCP server built only from the official MCP Python SDK (not our code).

The SDK serves the authorization server (RFC 8414 metadata, /authorize, /token, /register)
and the protected resource (RFC 9728 metadata, Streamable HTTP at /mcp) in one process. The
provider below is the SDK's in-memory example shape, auto-approving every authorization
request so our client can log in with --headless.

Run with the interop venv (tests/interop/.venv, mcp>=1.20):
    python client/interop/python_sdk_oauth_server.py 39201
then:
    http-oauth2-client --headless --token-store memory http://127.0.0.1:39201/mcp
"""

import secrets
import sys
import time

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 39201
BASE = f"http://127.0.0.1:{PORT}"
SCOPES = ["user"]


class AutoApproveProvider:
    def __init__(self) -> None:
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str):
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or SCOPES,
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            subject="python-user",
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client, authorization_code: str):
        return self.codes.get(authorization_code)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        at, rt = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        exp = int(time.time()) + 3600
        self.tokens[at] = AccessToken(token=at, client_id=client_id, scopes=scopes, expires_at=exp, resource=resource, subject="python-user")
        self.refresh[rt] = RefreshToken(token=rt, client_id=client_id, scopes=scopes, resource=resource, subject="python-user")
        return OAuthToken(access_token=at, expires_in=3600, scope=" ".join(scopes), refresh_token=rt)

    async def exchange_authorization_code(self, client, authorization_code: AuthorizationCode) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        return self._issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client, refresh_token: str):
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(self, client, refresh_token: RefreshToken, scopes: list[str]) -> OAuthToken:
        self.refresh.pop(refresh_token.token, None)  # rotation
        return self._issue(client.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str):
        t = self.tokens.get(token)
        if t and t.expires_at and t.expires_at < time.time():
            return None
        return t

    async def revoke_token(self, token) -> None:
        self.tokens.pop(getattr(token, "token", ""), None)
        self.refresh.pop(getattr(token, "token", ""), None)


mcp = MCPServer(
    name="python-sdk-oauth-interop",
    auth_server_provider=AutoApproveProvider(),
    auth=AuthSettings(
        issuer_url=BASE,
        resource_server_url=f"{BASE}/mcp",
        required_scopes=SCOPES,
        client_registration_options=ClientRegistrationOptions(enabled=True, valid_scopes=SCOPES, default_scopes=SCOPES),
        revocation_options=RevocationOptions(enabled=True),
        validate_token_resource=True,
    ),
)


@mcp.tool()
def echo(message: str) -> str:
    """Returns the message."""
    return message


@mcp.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


if __name__ == "__main__":
    mcp.run("streamable-http", host="127.0.0.1", port=PORT)
